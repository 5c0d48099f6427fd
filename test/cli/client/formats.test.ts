import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { CliError } from '../../../src/cli/client/exit.ts';
import { formatDotenv, formatEnv, formatYaml, yamlQuote } from '../../../src/cli/client/formats.ts';
import { envFileBlock, escapeCommandValue, maskLines } from '../../../src/cli/client/github.ts';
import { bash } from '../helpers.ts';

const text = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);

describe('yamlQuote', () => {
  test('parses back to the same string for any well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (value) => {
        assert.equal(parseYaml(`v: ${yamlQuote(value)}\n`).v, value);
      }),
      { numRuns: 500 },
    );
  });

  test('escapes characters that YAML 1.1 folds as line breaks', () => {
    assert.equal(yamlQuote('a\u0085b\u2028c\u2029d\u00a0e'), '"a\\Nb\\Lc\\Pd\\_e"');
    assert.equal(yamlQuote('\u0000\u0007\u001b\u007f"\\'), '"\\0\\a\\e\\x7F\\"\\\\"');
  });
});

describe('formatYaml', () => {
  test('quotes key and variable names YAML would read as booleans, nulls or numbers', () => {
    const minted = [['true', { null: 'x', '1e3': 'y', OK_NAME: 'z' }]] as const;
    const out = formatYaml(minted);
    assert.equal(out, '"true":\n  "null": "x"\n  "1e3": "y"\n  OK_NAME: "z"\n');
    assert.deepEqual(parseYaml(out), { true: { null: 'x', '1e3': 'y', OK_NAME: 'z' } });
  });
});

describe('formatEnv', () => {
  test('bash evaluates the output back to the exact values, whatever they hold', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          text.filter((s) => !s.includes('\0')),
          { minLength: 1, maxLength: 5 },
        ),
        async (values) => {
          const outputs = Object.fromEntries(values.map((v, i) => [`V${i}`, v]));
          const script = `eval "$(cat)"; for n in ${Object.keys(outputs).join(' ')}; do printf '%s\\0' "\${!n}"; done`;
          const out = await bash(script, formatEnv([['K', outputs]]));
          assert.deepEqual(out.split('\0').slice(0, -1), values);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('refuses a variable name a shell would not read as one', () => {
    assert.throws(
      () => formatEnv([['K', { 'A;rm -rf /': 'x' }]]),
      (err: unknown) =>
        err instanceof CliError && err.exitCode === 1 && /not a valid variable name/.test(err.message),
    );
  });
});

describe('formatDotenv', () => {
  test('refuses a carriage return, naming the variable but not its value', () => {
    assert.throws(
      () => formatDotenv([['K', { SECRET_VAR: 'hidden-value\rmore' }]]),
      (err: unknown) =>
        err instanceof CliError &&
        err.message.includes('SECRET_VAR') &&
        !err.message.includes('hidden-value'),
    );
  });
});

describe('github helpers', () => {
  test('escape %, CR and LF in that order', () => {
    assert.equal(escapeCommandValue('%0A\r\n%'), '%250A%0D%0A%25');
  });

  test('mask a multi-line value whole and each non-empty line', () => {
    assert.deepEqual(maskLines('a\r\nb\n\n  \nc'), [
      '::add-mask::a%0D%0Ab%0A%0A  %0Ac\n',
      '::add-mask::a\n',
      '::add-mask::b\n',
      '::add-mask::c\n',
    ]);
    assert.deepEqual(maskLines(''), []);
  });

  test('choose a delimiter absent from the value', () => {
    const block = envFileBlock('NAME', 'ghadelimiter_ value');
    const [header, value, delimiter, rest] = block.split('\n');
    assert.equal(header, `NAME<<${delimiter}`);
    assert.equal(value, 'ghadelimiter_ value');
    assert.match(delimiter ?? '', /^ghadelimiter_[0-9a-f-]{36}$/);
    assert.equal(rest, '');
  });
});
