import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDangerousEnvName } from '../../src/core/env-names.ts';
import type { FakeBroker } from './fake-broker.ts';
import { startBroker } from './fixture.ts';
import { makeHome, removeHome, runCli } from './helpers.ts';

let broker: FakeBroker;
let token: string;
let home: string;

const VALUE = 'touch-pwned-value-0123';
const awsOutputs = {
  AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-value-0123456789',
  AWS_SESSION_TOKEN: 'session-value-0123456789',
};
const HOSTILE = ['BASH_ENV', 'ld_preload', 'NODE_OPTIONS', 'PROMPT_COMMAND', 'GITHUB_PATH', 'Runner_Temp'];

before(async () => {
  ({ broker, token } = await startBroker(
    HOSTILE.map((name, i) => ({
      name: `K${i}`,
      provider: 'aws-prod',
      maxDuration: 900,
      outputs: { ...awsOutputs, [name]: VALUE },
    })),
  ));
  home = makeHome();
});
after(async () => {
  await broker.stop();
  removeHome(home);
});

describe('variable names that change how shells, loaders or runtimes behave', () => {
  test('the list is compared case-insensitively and covers the prefixes', () => {
    for (const name of [
      ...HOSTILE,
      'DYLD_INSERT_LIBRARIES',
      'GIT_SSH_COMMAND',
      'ENV',
      'path',
      'IFS',
      'PS4',
    ]) {
      assert.ok(isDangerousEnvName(name), name);
    }
    for (const name of ['AWS_REGION', 'ENVIRONMENT', 'PATHS', 'GITLAB_TOKEN', 'MY_LD_PATH']) {
      assert.ok(!isDangerousEnvName(name), name);
    }
  });

  const FORMATS = ['env', 'dotenv', 'json', 'yaml', 'github', 'credential-process'];
  for (const [i, format] of FORMATS.entries()) {
    const name = HOSTILE[i] as string;
    test(`a broker answer setting ${name} is refused with --output ${format}, printing nothing`, async () => {
      const githubEnv = join(home, `github_env_${format}`);
      writeFileSync(githubEnv, '');
      const r = await runCli(
        ['mint', '--broker-url', broker.url, '--token', token, '--keys', `K${i}`, '--output', format],
        { home, env: { GITHUB_ENV: githubEnv }, secrets: [token, VALUE] },
      );
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^voidkey: key K${i}: the broker's answer sets ${name}, `));
      assert.equal(readFileSync(githubEnv, 'utf8'), '');
    });
  }
});
