/**
 * Properties of `voidkey mint`'s output formats over arbitrary minted values
 * (any well-formed text: quotes, `$`, backslashes, newlines, NUL, line
 * separators, astral characters): what each format prints reads back as
 * exactly the values, or the format refuses with CliError (exit 1) naming
 * the variable and never its value. formats.test.ts holds the examples and
 * the bash round trip of `env`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { CliError } from '../../../src/cli/client/exit.ts';
import {
  formatDotenv,
  formatEnv,
  formatJson,
  formatYaml,
  type Minted,
} from '../../../src/cli/client/formats.ts';
import { envFileBlock, escapeCommandValue, maskLines } from '../../../src/cli/client/github.ts';
import { bash } from '../helpers.ts';

const wellFormed = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);
const value = fc.oneof(
  wellFormed,
  fc.constantFrom("'", '"', '\\', '$(id)', '`id`', '${HOME}', 'a\nb', 'true', '~', ''),
);
const keyName = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
// `_` is a valid name that bash itself reassigns after every command; it is left out here.
const varName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/).filter((n) => n !== '_');

/** Minted outputs whose variable names are unique across keys (env-like formats need that). */
const minted: fc.Arbitrary<Minted> = fc.uniqueArray(varName, { minLength: 1, maxLength: 8 }).chain((names) =>
  fc
    .tuple(
      fc.uniqueArray(keyName, { minLength: 1, maxLength: 3 }),
      fc.array(value, { minLength: names.length, maxLength: names.length }),
    )
    .map(([keys, values]) =>
      keys.map((key, k) => {
        const outputs: Record<string, string> = {};
        names.forEach((name, i) => {
          if (i % keys.length === k) outputs[name] = values[i] as string;
        });
        return [key, outputs] as const;
      }),
    ),
);

const asObject = (m: Minted) => Object.fromEntries(m.map(([key, outputs]) => [key, { ...outputs }]));
const variables = (m: Minted) => m.flatMap(([, outputs]) => Object.entries(outputs));

/** Asserts a CliError with exit 1 that names `name` and does not quote `secret`. */
function refusesNaming(fn: () => unknown, name: string, secret: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError && err.exitCode === 1, String(err));
    assert.ok(err.message.includes(name), err.message);
    if (secret.length >= 4) assert.ok(!err.message.includes(secret), 'the value reached the message');
    return true;
  });
}

describe('output format properties', () => {
  test('yaml reads back as exactly the minted values, under YAML 1.2 and 1.1', () => {
    fc.assert(
      fc.property(minted, (m) => {
        const out = formatYaml(m);
        assert.deepEqual(parseYaml(out), asObject(m));
        assert.deepEqual(parseYaml(out, { version: '1.1' }), asObject(m));
      }),
      { numRuns: 400 },
    );
  });

  // Regression: `e0: "x"` came out bare, and YAML 1.1 (the yaml package's schema) read the key as NaN.
  test('yaml quotes names that YAML 1.1 would read as an exponent float', () => {
    const out = formatYaml([['e-1', { e0: 'x', E12: 'y', e0x: 'z' }]]);
    assert.equal(out, '"e-1":\n  "e0": "x"\n  "E12": "y"\n  e0x: "z"\n');
    assert.deepEqual(parseYaml(out, { version: '1.1' }), { 'e-1': { e0: 'x', E12: 'y', e0x: 'z' } });
  });

  test('json reads back as exactly the minted values and ends with one newline', () => {
    fc.assert(
      fc.property(minted, (m) => {
        const out = formatJson(m);
        assert.deepEqual(JSON.parse(out), asObject(m));
        assert.ok(out.endsWith('}\n'));
      }),
      { numRuns: 400 },
    );
  });

  test('dotenv prints NAME=value lines that split back exactly, or refuses a newline, CR or NUL', () => {
    fc.assert(
      fc.property(minted, (m) => {
        const unprintable = variables(m).find(([, v]) => /[\n\r\0]/.test(v));
        if (unprintable) {
          refusesNaming(() => formatDotenv(m), unprintable[0], unprintable[1]);
          return;
        }
        const lines = formatDotenv(m).split('\n');
        assert.equal(lines.pop(), '');
        const read = lines.map((line) => [
          line.slice(0, line.indexOf('=')),
          line.slice(line.indexOf('=') + 1),
        ]);
        assert.deepEqual(read, variables(m));
      }),
      { numRuns: 400 },
    );
  });

  test('env and dotenv refuse any variable name a shell would not read, naming the key', () => {
    const badName = fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((s) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(s));
    fc.assert(
      fc.property(badName, wellFormed, (name, v) => {
        for (const format of [formatEnv, formatDotenv]) {
          assert.throws(
            () => format([['MY_KEY', { [name]: v }]]),
            (err: unknown) => err instanceof CliError && err.exitCode === 1 && err.message.includes('MY_KEY'),
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  test('env, evaluated by bash, sets every variable of several keys to exactly its value', async () => {
    await fc.assert(
      fc.asyncProperty(
        minted.filter((m) => variables(m).every(([, v]) => !v.includes('\0'))),
        async (m) => {
          const names = variables(m).map(([name]) => name);
          // The loop variable is longer than any generated name, so it cannot overwrite one.
          const script = `eval "$(cat)"; for voidkey_loop_var in ${names.join(' ')}; do printf '%s\\0' "\${!voidkey_loop_var}"; done`;
          const out = await bash(script, formatEnv(m));
          assert.deepEqual(
            out.split('\0').slice(0, -1),
            variables(m).map(([, v]) => v),
          );
        },
      ),
      { numRuns: 25, examples: [[[['a', { n: "'", i: '$n' }]]]] },
    );
  });

  test('github: each $GITHUB_ENV block reads back exactly as the runner parses it', () => {
    const tricky = fc.oneof(
      value,
      wellFormed.map((s) => `ghadelimiter_${s}\nghadelimiter_`),
    );
    fc.assert(
      fc.property(varName, tricky, (name, v) => {
        const block = envFileBlock(name, v);
        const [header] = block.split('\n', 1) as [string];
        assert.ok(header.startsWith(`${name}<<`));
        const delimiter = header.slice(name.length + 2);
        const body = block.slice(header.length + 1);
        // The runner reads lines until the first one equal to the delimiter.
        const lines = body.split('\n');
        const end = lines.indexOf(delimiter);
        assert.equal(lines.slice(0, end).join('\n'), v);
        assert.equal(lines.slice(end + 1).join('\n'), '');
      }),
      { numRuns: 400 },
    );
  });

  test('github: workflow-command escaping is reversible and every non-blank line of a value is masked', () => {
    const decoded: Record<string, string> = { '%25': '%', '%0D': '\r', '%0A': '\n' };
    const unescapeCommand = (s: string) => s.replace(/%25|%0D|%0A/g, (m) => decoded[m] as string);
    fc.assert(
      fc.property(fc.oneof(value, fc.constantFrom('%0A', '%%0D', 'a\r\nb\n\n c ')), (v) => {
        const escaped = escapeCommandValue(v);
        assert.ok(!/[\r\n]/.test(escaped));
        assert.equal(unescapeCommand(escaped), v);
        const masks = maskLines(v);
        if (v === '') return assert.deepEqual(masks, []);
        assert.equal(masks[0], `::add-mask::${escaped}\n`);
        for (const line of v.split(/\r\n|\r|\n/).filter((l) => l.trim() !== '')) {
          assert.ok(masks.includes(`::add-mask::${escapeCommandValue(line)}\n`), JSON.stringify(line));
        }
      }),
      { numRuns: 400 },
    );
  });
});
