import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_TABLE } from '../../src/core/errors.ts';

test('error table maps INVALID_TOKEN to 401', () => {
  assert.equal(ERROR_TABLE.INVALID_TOKEN.status, 401);
});
