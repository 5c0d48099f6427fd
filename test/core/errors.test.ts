import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  BrokerError,
  ERROR_TABLE,
  ForbiddenError,
  InvalidTokenError,
  TOKEN_REASONS,
} from '../../src/core/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

function tableRows(heading: string): string[][] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(heading));
  assert.ok(section, `docs/errors.md has a "${heading}" section`);
  return section
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) => line.split('|').map((cell) => cell.trim().replaceAll('`', '')));
}

describe('error table', () => {
  test('docs/errors.md lists exactly the codes of the table with the same statuses', () => {
    const documented = tableRows('Codes').map(([, code, status]) => [code, Number(status)]);
    const actual = Object.entries(ERROR_TABLE).map(([code, { status }]) => [code, status]);
    assert.deepEqual(documented, actual);
  });

  test('docs/errors.md lists exactly the INVALID_TOKEN reasons', () => {
    const documented = tableRows('`INVALID_TOKEN` reasons').map(([, reason]) => reason);
    assert.deepEqual(documented, [...TOKEN_REASONS]);
  });

  test('an InvalidTokenError carries its reason in details and answers 401', () => {
    const err = new InvalidTokenError('token_expired');
    assert.equal(err.status, 401);
    assert.equal(err.code, 'INVALID_TOKEN');
    assert.deepEqual(err.details, { reason: 'token_expired' });
    assert.ok(err instanceof BrokerError);
  });

  test('a ForbiddenError lists every denied key', () => {
    const err = new ForbiddenError(['A', 'B']);
    assert.equal(err.status, 403);
    assert.deepEqual(err.details, { deniedKeys: ['A', 'B'] });
  });
});
