/**
 * The file `voidkey policy test` reads: `{version: 1, config?, cases: […]}`.
 * Its TypeBox schema is the validation and the source of
 * schema/policy-tests.schema.json; what a flat schema cannot say (a case
 * gives exactly one of `claims` and `token`) is checked here too.
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { Report } from '../../core/config/report.ts';
import { validateSchema } from '../../core/config/validate.ts';
import { parseYaml } from '../../core/config/yaml.ts';
import { REASON_CODES } from '../../core/policy/index.ts';
import { InvalidInput } from './common.ts';

const strict = { additionalProperties: false } as const;
const KEY_NAME = '^[A-Za-z0-9_-]{1,64}$';

const Names = (description: string) =>
  Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }))], { description });

const KeyExpectationSchema = Type.Object(
  {
    reason: Type.Optional(
      Type.Union(
        REASON_CODES.map((code) => Type.Literal(code)),
        { description: 'The reason code the key is denied with.' },
      ),
    ),
    grantedBy: Type.Optional(
      Names('Exactly the identities that grant the key (names; `clientIdentities[i]` for an unnamed one).'),
    ),
    deniedBy: Type.Optional(Names('Exactly the deny rules that remove the key (names).')),
    rendered: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Fields of the key as rendered for these claims; only the fields listed are compared.',
      }),
    ),
  },
  { ...strict, description: 'What is expected of one key.' },
);

const CaseSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Shown on the case’s `ok`/`FAIL` line.' }),
    idp: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Client IdP name; else the one whose issuer is `claims.iss`.',
      }),
    ),
    claims: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'The token’s claims (no `exp`, `iat` or `aud` needed).',
      }),
    ),
    token: Type.Optional(
      Type.String({ minLength: 1, description: 'A compact JWT, decoded (not verified) for its claims.' }),
    ),
    request: Type.Optional(
      Type.Array(Type.String({ pattern: KEY_NAME }), {
        minItems: 1,
        description:
          'Keys asked for, as in `POST /credentials/mint`; without it, the keys `GET /credentials/keys` would list.',
      }),
    ),
    expect: Type.Object(
      {
        decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')], {
          description:
            '`allow`: every requested key mints (without `request`: at least one key would). `deny` otherwise.',
        }),
        keys: Type.Optional(
          Type.Record(Type.String({ pattern: KEY_NAME }), KeyExpectationSchema, {
            description: 'Expectations per key name.',
          }),
        ),
        grantedKeys: Type.Optional(
          Type.Array(Type.String({ pattern: KEY_NAME }), {
            description: 'Exactly the keys that would mint now (`GET /credentials/keys`), in any order.',
          }),
        ),
      },
      { ...strict, description: 'The expected outcome; `decision` alone is a complete expectation.' },
    ),
  },
  strict,
);

/** The policy test file. */
export const PolicyTestsSchema = Type.Object(
  {
    version: Type.Literal(1, { description: 'Format version: 1.' }),
    config: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Broker config to test, relative to this file; `--config` overrides it.',
      }),
    ),
    cases: Type.Array(CaseSchema, { minItems: 1, description: 'The cases, run in order.' }),
  },
  { ...strict, description: 'Cases for `voidkey policy test`.' },
);

export type PolicyTests = Static<typeof PolicyTestsSchema>;
export type PolicyCase = Static<typeof CaseSchema>;
export type KeyExpectation = Static<typeof KeyExpectationSchema>;

/**
 * Reads and validates the cases file at `path`; throws {@link InvalidInput}
 * listing every problem, each line prefixed by `shown` (the path as the user gave it).
 */
export function readCasesFile(path: string, shown: string): PolicyTests {
  const invalid = (problems: string[]) => new InvalidInput(problems.map((p) => `${shown}: ${p}`));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'unreadable';
    throw invalid([`cannot read the file (${code})`]);
  }
  const report = new Report();
  const data = parseYaml(text, '(root)', report);
  if (data !== undefined) validateSchema(data, report, PolicyTestsSchema);
  if (!report.hasProblems) {
    for (const [i, c] of (data as PolicyTests).cases.entries()) {
      if ((c.claims === undefined) === (c.token === undefined)) {
        report.error(['cases', i], 'give exactly one of `claims` and `token`');
      }
    }
  }
  if (report.hasProblems) throw invalid(report.problems());
  return data as PolicyTests;
}
