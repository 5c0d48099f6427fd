/**
 * Writes docs/configuration.md from the config schema (the single source of
 * truth) plus the cross-check tables. `npm run docs:config` regenerates it;
 * a test fails when the committed file drifts from what this renders.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { KEY_ONLY_ON, KEY_REQUIRED, POLICY_LIMITS } from '../src/core/config/checks-keys.ts';
import { PROVIDER_ONLY_ON, PROVIDER_REQUIRED, TAG_LIMITS } from '../src/core/config/checks-providers.ts';
import { ConfigSchema, PROVIDER_TYPES } from '../src/core/config/schema.ts';
import { alternatives, describeSchema, recordValueSchema } from '../src/core/config/schema-walk.ts';
import { DEFAULT_OUTPUTS, DURATION_RULES, PROVIDER_FIELDS } from '../src/core/providers-meta.ts';

type Json = Record<string, unknown>;
const j = (s: TSchema): Json => s as unknown as Json;

interface Row {
  path: string;
  type: string;
  def: string;
  description: string;
}

const cell = (text: string): string => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function defaultText(schema: TSchema): string {
  const def = j(schema).default;
  if (def === undefined) return '—';
  if (typeof def === 'object' && def !== null && Object.keys(def).length === 0 && !Array.isArray(def))
    return '—';
  return `\`${JSON.stringify(def)}\``;
}

function typeText(schema: TSchema): string {
  const alts = alternatives(schema);
  if (alts.length === 1 && j(schema).type === 'object' && !recordValueSchema(schema)) return 'section';
  return describeSchema(schema);
}

/** Schemas whose fields get rows of their own, with the path suffix that leads into them. */
function nested(schema: TSchema): [string, TSchema][] {
  return alternatives(schema).flatMap((alt): [string, TSchema][] => {
    const s = j(alt);
    if (s.type === 'object' && s.properties) return [['', alt]];
    if (s.type === 'array' && s.items && j(s.items as TSchema).properties)
      return [['[]', s.items as TSchema]];
    const record = recordValueSchema(alt);
    if (record && j(record).properties) return [['.<NAME>', record]];
    if (record && alternatives(record).some((a) => j(a).properties)) {
      return alternatives(record)
        .filter((a) => j(a).properties)
        .map((a): [string, TSchema] => ['.<NAME>', a]);
    }
    return [];
  });
}

function fieldRows(name: string, prop: TSchema, prefix: string, required: boolean): Row[] {
  const path = `${prefix}${prefix === '' ? '' : '.'}${name}`;
  const needed = required && j(prop).default === undefined;
  const description = `${needed ? '**Required.** ' : ''}${String(j(prop).description ?? '')}`;
  const own: Row = { path, type: typeText(prop), def: defaultText(prop), description };
  return [own, ...nested(prop).flatMap(([suffix, inner]) => rows(inner, `${path}${suffix}`))];
}

function rows(schema: TSchema, prefix: string): Row[] {
  const props = (j(schema).properties ?? {}) as Record<string, TSchema>;
  const required = new Set((j(schema).required as string[] | undefined) ?? []);
  return Object.entries(props).flatMap(([name, prop]) => fieldRows(name, prop, prefix, required.has(name)));
}

function table(list: Row[]): string {
  const lines = ['| Field | Type | Default | Description |', '|---|---|---|---|'];
  for (const r of list) {
    lines.push(`| \`${cell(r.path)}\` | ${cell(r.type)} | ${cell(r.def)} | ${cell(r.description)} |`);
  }
  return lines.join('\n');
}

function sections(): string {
  const props = j(ConfigSchema).properties as Record<string, TSchema>;
  const required = new Set(j(ConfigSchema).required as string[]);
  return Object.entries(props)
    .map(([name, prop]) => {
      const description = String(j(prop).description ?? '');
      return `### \`${name}\`\n\n${description}\n\n${table(fieldRows(name, prop, '', required.has(name)))}\n`;
    })
    .join('\n');
}

function typeTable(
  onlyOn: Readonly<Record<string, readonly string[]>>,
  required: Readonly<Record<string, readonly string[]>>,
) {
  const lines = [
    `| Field | ${PROVIDER_TYPES.join(' | ')} |`,
    `|---|${PROVIDER_TYPES.map(() => '---').join('|')}|`,
  ];
  for (const [field, types] of Object.entries(onlyOn)) {
    const marks = PROVIDER_TYPES.map((t) =>
      (required[t] ?? []).includes(field) ? 'required' : types.includes(t) ? 'optional' : '—',
    );
    lines.push(`| \`${field}\` | ${marks.join(' | ')} |`);
  }
  return lines.join('\n');
}

function providerTables(): string {
  const durations = PROVIDER_TYPES.map((t) => {
    const r = DURATION_RULES[t];
    return r
      ? `| \`${t}\` | ${r.min} | ${r.default} | ${r.max} | ${r.chainedMax ?? '—'} |`
      : `| \`${t}\` | — | — | — | — (Entra chooses; \`duration\` refused) |`;
  });
  const fields = PROVIDER_TYPES.map(
    (t) =>
      `| \`${t}\` | ${PROVIDER_FIELDS[t].map((f) => `\`${f}\``).join(', ')} | ${Object.keys(
        DEFAULT_OUTPUTS[t],
      )
        .map((v) => `\`${v}\``)
        .join(', ')} |`,
  );
  return [
    '### Provider fields by type\n',
    typeTable(PROVIDER_ONLY_ON, PROVIDER_REQUIRED),
    '\n`name`, `type` and `audience` suit every type.\n',
    '### Key fields by provider type\n',
    typeTable(KEY_ONLY_ON, KEY_REQUIRED),
    '\n`provider`, `description` and `outputs` suit every type.\n',
    '### Durations (seconds)\n',
    '| Type | Minimum | Default | Maximum | With `assumeRole` |\n|---|---|---|---|---|',
    durations.join('\n'),
    `\n### Output fields and default outputs\n`,
    '| Type | Fields `outputs` may name | Default outputs |\n|---|---|---|',
    fields.join('\n'),
    `\nAWS limits checked: at most ${POLICY_LIMITS.arns} \`policyArns\`; \`policy\` at most ${POLICY_LIMITS.packedChars} characters packed; at most ${TAG_LIMITS.count} session tags, keys ≤ ${TAG_LIMITS.keyLength} and values ≤ ${TAG_LIMITS.valueLength} characters.\n`,
  ].join('\n');
}

const PROSE_INTRO = `# Configuration reference

> Generated from \`src/core/config/schema.ts\` by \`scripts/gen-config-docs.ts\`
> (\`npm run docs:config\`). Do not edit by hand: a test fails when this file
> and the schema drift apart.

The broker reads one YAML file: \`--config PATH\`, else \`$CONFIG_PATH\`, else
\`./config/config.yaml\`, else \`/etc/voidkey/config.yaml\`.
\`voidkey config validate\` checks a file exactly as \`voidkey serve\` loads it
and prints every problem at once, one line each as \`path.to.field: what is
wrong\` (exit 1), or each warning as \`warning: path.to.field: text\` (exit 0).
\`serve\` refuses to start on the same problems. Both also read every file the
config names — the TLS certificate and key (which must form a pair), the
broker's \`privateKeyFile\` (which must be a usable private key), every
\`\${file:…}\` and every include — and a file that cannot be used is a
problem naming the field, the file's full path and the system's reason
(\`server.tls.cert: cannot read /etc/voidkey/tls/cert.pem: no such file or
directory (ENOENT)\`). With \`--check-connectivity\` it also fetches every
client issuer's discovery document and JWKS and one broker token per
provider audience, naming what is unreachable or wrong (an issuer that
differs from its discovery document's is shown with the one the document
names); on success it prints one \`reachable: …\` line per issuer and per
audience it checked before \`config OK\`.
\`config/example.yaml\` is a complete, commented example.

Warnings (the config still loads) point at the usual mistakes:

| Warning | Why |
|---|---|
| \`holds "$" followed by a name, which is not substituted\` | only \`\${NAME}\` reads the environment; \`$NAME\` stays literal text |
| \`NAME is not set, so the default written in the config is used\` (on \`clientSecret\`, \`password\`, \`sentinelPassword\`) | a \`\${NAME:-default}\` default there is a placeholder, not a secret |
| \`ends with "/"\` on an issuer | issuers are compared exactly and few end with a slash |
| \`logging.format: pretty needs the optional package pino-pretty\` | without it the broker logs JSON |
| \`clientIdentities: no identity is granted any key\` | every mint would be refused |

Only the fields below exist: an unknown field is an error, with "did you mean"
when a known field is close. A field written as \`key:\` with nothing after it
counts as not set. Once loaded, the configuration is filled with its defaults
and frozen; nothing reads the environment after start-up.

In paths, \`[]\` stands for any list item and \`<NAME>\` for any map key (a key
name, an output variable, a tag).
`;

const PROSE_SUBSTITUTION = `## Substitution

| Form | Becomes |
|---|---|
| \`\${VAR}\` | the environment variable; unset is an error naming the variable and the field |
| \`\${VAR:-default}\` | the variable, or \`default\` when it is unset or empty |
| \`\${file:PATH}\` | the file's contents with one trailing newline trimmed (≤ 1 MiB); \`PATH\` is relative to the config file that contains it; a missing or unreadable file is an error naming the field, the file's full path and the system's reason |
| \`$\${\` | a literal \`\${\` |

Substitution happens inside string values after the YAML is parsed, never in
the raw text, so a value holding \`: \`, \`#\` or a newline cannot change the
document's shape. Map keys are never substituted. A value that is exactly one
substitution takes the type the field wants: \`port: \${PORT:-3000}\` is the
number 3000 and \`allowQueryToken: \${ALLOW_QUERY:-false}\` a boolean. A value
written literally is never converted (\`port: "3000"\` is a string, so an error).
Substituted values are treated as secrets: no error or warning shows one.
`;

const PROSE_MERGING = `## Anchors, merge keys and includes

Each file is one YAML 1.2 document (so \`yes\` stays a string) with YAML 1.1
merge keys: anchors, aliases and \`<<: *base\` work within a file. An alias
shares its anchor's value rather than copying it; against "billion laughs"
documents, one file may hold at most 1000 aliases and expand through them to
at most 1,000,000 values or 64 MiB of text.

\`includes: [base.yaml, ...]\` loads other files, relative to the including
file, first to last, and then lays the including file on top:

- maps merge deeply;
- \`clientIdps\` and \`accessProviders\` merge by \`name\`, and
  \`clientIdentities\` by \`idp\` + \`subject\`: an entry with the same identity
  is merged field by field, the including file winning; new entries are
  appended;
- every other list, and every scalar, is replaced.

Included files may include others. An include cycle is an error naming the
chain (\`includes[0]: include cycle: a.yaml → b.yaml → a.yaml (in b.yaml)\`); a
missing include is an error naming the file and its full path. Each file is substituted on its
own, so \`\${file:…}\` in an included file is relative to that file, and a
problem found while reading an included file ends with \`(in that-file.yaml)\`.
Anchors do not cross files: share blocks through \`includes\`.

The first YAML mistake in a file is reported with the file, line and column,
and never quotes the line (it could hold a secret):

| Mistake | Message |
|---|---|
| a key twice in one map | \`config.yaml: line 15, column 3: duplicate key "port" (each key may appear once in a map)\` |
| an alias without its anchor (also one defined in another file) | \`\`config.yaml: line 4, column 11: undefined alias *keys: no anchor &keys before it in this file (anchors work only within one file; to reuse settings from another file, list it under \`includes:\`)\`\` |
| tabs for indentation | \`config.yaml: line 14, column 1: a tab is used for indentation; YAML indents with spaces only\` (once, however many lines) |
| an empty file, or only comments | \`config.yaml: the config file /etc/voidkey/config.yaml is empty (it holds no settings)\` |
| no file at the path | \`config.yaml: the config file: cannot read /etc/voidkey/config.yaml: no such file or directory (ENOENT)\` |
| no config found at all | \`voidkey serve: no config file found: pass --config PATH or set CONFIG_PATH (searched ./config/config.yaml and /etc/voidkey/config.yaml)\` |

An empty *included* file is no error: it adds nothing.
`;

const PROSE_EDITORS = `## Editor support (JSON Schema)

\`schema/config.schema.json\` is generated from the same schema as this page
(\`npm run docs:config\`) and ships in the package. Editors that use
yaml-language-server (the YAML extension of VS Code; Neovim or Helix with
that server) check a file against it, complete field names and show these
descriptions when the file's first line names it:

\`\`\`yaml
# yaml-language-server: $schema=./node_modules/voidkey/schema/config.schema.json
\`\`\`

The path is relative to the YAML file (or an absolute path or URL). The
schema describes the file as written, before substitution: wherever a
number, a boolean or a fixed set of words goes, a value that is exactly one
\`\${…}\` is accepted too, fields with a default may be left out, and no
top-level section is required, since it may come from \`includes\` (an
entry such as an identity still needs its own required fields). The
editor's check is a convenience:
\`voidkey config validate\` remains the authority (cross-checks and
warnings are not in the schema). \`schema/policy-tests.schema.json\` does
the same for the case files of \`voidkey policy test\` (docs/policy.md).
`;

const PROSE_OUTPUTS = `## Outputs

A key's \`outputs\` maps environment-variable names (\`^[A-Za-z_][A-Za-z0-9_]*$\`)
to values:

- a string naming one of the provider's fields (table below) maps that field;
- \`{ value: "…" }\` is a literal;
- any other string is a literal too, for compatibility with the original docs
  (\`AWS_REGION: us-east-1\`), but \`config validate\` warns when it looks like a
  misspelt field (within two edits, or equal ignoring case:
  \`SecretAccesKey\`). Write \`{ value: … }\` to say a literal is meant.

A key without \`outputs\` gets the default outputs of its provider type.
`;

const PROSE_CHECKS = `## Cross-checks

Beyond the schema, loading rejects, all reported at once:

- an unknown provider \`type\`, listing the known ones; a field required by the
  provider type missing, or a field of another type present (tables below);
- a key naming an unknown provider, an identity naming an unknown idp;
- duplicate \`name\`s in \`clientIdps\` or \`accessProviders\`; two \`clientIdps\`
  with the same \`issuer\`; two identities with the same \`idp\` and \`subject\`;
  a key name that is not 1–64 of \`[A-Za-z0-9_-]\`;
- an issuer, \`jwksUri\`, \`tokenEndpoint\`, provider \`endpoint\`,
  \`stsEndpoint\` or \`authorityHost\` that is not an absolute URL, or is
  \`http://\` without \`server.allowInsecureIssuers\`; an issuer with a query or
  fragment;
- a client IdP without \`audience\` (unless \`allowAnyAudience: true\`);
- \`server.trustProxy: true\` (it would believe any client's
  \`X-Forwarded-For\`); a \`trustProxy\` entry that is not an address or CIDR;
  a CORS origin \`*\` or one that is not an exact origin;
- \`clientAuth\` \`client_secret_basic\`/\`client_secret_post\` without
  \`clientSecret\`, \`private_key_jwt\` without \`privateKeyFile\`;
- a provider with no broker-token audience (an \`aws-sts\` or \`minio\` provider
  without \`audience\` needs \`brokerIdp.audience\`);
- a key \`duration\` or provider \`maxDuration\` outside the type's range, a key
  \`duration\` above its provider's \`maxDuration\`, or above the chained
  maximum with \`assumeRole\`; any \`duration\` on an azure key;
- a \`policy\` that is not a JSON object or too long packed; too many
  \`policyArns\`; a \`roleArn\` or policy ARN not starting \`arn:\`; an invalid
  \`roleSessionName\`; too many or too long session tags; an azure \`scope\` not
  ending in \`/.default\`; a gcp \`serviceAccount\` that is not an email;
- an output variable name that is not a valid environment-variable name;
- a \`logging.audit.maxSize\` that is not a size;
- a \`redis\` block without exactly one of \`url\`, \`sentinels\`, \`cluster\`; a
  \`redis.url\` that is not \`redis://\` or \`rediss://\`; a \`sentinels\` or
  \`cluster\` entry that is not \`host:port\`; \`sentinels\` without \`name\`;
  \`name\` or \`sentinelPassword\` without \`sentinels\`; \`redis.tls.cert\`
  without \`key\` or the reverse.

Warnings (printed, not fatal), each naming its path:

- \`clientIdps[].allowAnyAudience: true\` and \`server.allowInsecureIssuers: true\`
  (development only);
- provider-level \`externalId\` or \`tags\` on an \`aws-sts\` provider none of
  whose keys uses \`assumeRole\` (they have no effect);
- two providers of different types, or of one type at different endpoints
  (\`endpoint\`; gcp: \`stsEndpoint\` and pool; azure: authority and tenant),
  sharing a broker-token audience (a token meant for one could be replayed at
  the other by whoever runs it);
- a literal output that looks like a misspelt field.
`;

/** The whole of docs/configuration.md, rendered from the schema and the check tables. */
export function renderConfigDocs(): string {
  return [
    PROSE_INTRO,
    '## Fields\n',
    sections(),
    PROSE_SUBSTITUTION,
    PROSE_MERGING,
    PROSE_EDITORS,
    PROSE_OUTPUTS,
    PROSE_CHECKS,
    providerTables(),
  ].join('\n');
}

/** Path of the generated file. */
export const CONFIG_DOCS_URL = new URL('../docs/configuration.md', import.meta.url);

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(CONFIG_DOCS_URL, renderConfigDocs());
  process.stdout.write(`wrote ${CONFIG_DOCS_URL.pathname}\n`);
}
