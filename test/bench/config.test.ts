/**
 * The benchmark is not part of `npm test`, but the config it generates is:
 * if the schema moves on, this fails instead of the benchmark rotting.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  type BenchEndpoints,
  benchConfigYaml,
  benchSubject,
  idpName,
  KEY_NAMES,
  POPULATIONS,
  type PopulationName,
  roleArn,
  SECRET_VARIABLE,
  tokenIdentity,
} from '../../bench/config.ts';
import { ConfigError, loadConfig } from '../../src/core/config/index.ts';
import { compilePolicy } from '../../src/core/policy/index.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const endpoints: BenchEndpoints = {
  clientIdps: Array.from({ length: 20 }, (_, i) => ({
    issuer: `http://127.0.0.1:${41000 + i}`,
    jwksUri: `http://127.0.0.1:40999/jwks/${i}`,
  })),
  brokerIssuer: 'http://127.0.0.1:40998',
  stsEndpoint: 'http://127.0.0.1:40997',
};

async function load(identities: number, population: PopulationName = 'exact') {
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-bench-config-'));
  dirs.push(dir);
  const path = join(dir, 'config.yaml');
  await writeFile(path, benchConfigYaml(endpoints, identities, { population }));
  try {
    return await loadConfig({ path, env: { [SECRET_VARIABLE]: 'bench-secret' } });
  } catch (err) {
    if (err instanceof ConfigError) assert.fail(`bench config refused:\n${err.problems.join('\n')}`);
    throw err;
  }
}

describe('bench config', () => {
  test('validates with 20 client IdPs and 500 identities of three keys each, rate limits off', async () => {
    const { config } = await load(500);
    assert.equal(config.clientIdps.length, 20);
    assert.equal(config.clientIdentities.length, 500);
    assert.deepEqual(Object.keys(config.clientIdentities[0]?.keys ?? {}), [...KEY_NAMES]);
    assert.equal(config.rateLimit.enabled, false);
    assert.equal(config.logging.level, 'warn');
    assert.equal(config.server.allowInsecureIssuers, true);
    assert.equal(config.brokerIdp.clientSecret, 'bench-secret');
  });

  test('binds identity 21 to the second client IdP with its own role per key', async () => {
    const { config } = await load(25);
    const identity = config.clientIdentities[21];
    assert.equal(identity?.idp, idpName(1));
    assert.equal(identity?.subject, benchSubject(21));
    assert.equal(identity?.keys.KEY_C?.roleArn, 'arn:aws:iam::123456789012:role/bench-21-c');
    assert.equal(roleArn(21, 'KEY_C'), 'arn:aws:iam::123456789012:role/bench-21-c');
  });

  test('validates the 10 and 10,000 identity variants of the scaling comparison', async () => {
    assert.equal((await load(10)).config.clientIdentities.length, 10);
    assert.equal((await load(10_000)).config.clientIdentities.length, 10_000);
  });

  test('validates the mixed population: 90 % exact subjects, then claim equality, globs and 10 regexes, each token granted by its own identity alone', async () => {
    const { config } = await load(10_000, 'mixed');
    const kind = (m: unknown) => (typeof m === 'string' ? 'equals' : Object.keys(Object(m)).join());
    const kinds = config.clientIdentities.map((c) =>
      c.subject !== undefined
        ? 'subject'
        : Object.values(c.match ?? {})
            .map(kind)
            .join(),
    );
    const count = (k: string) => kinds.filter((x) => x === k).length;
    const counts = [count('subject'), count('equals,equals'), count('glob'), count('regex')];
    assert.deepEqual(counts, [9000, 500, 490, 10]);
    const policy = compilePolicy(config);
    for (let i = 0; i < 10_000; i++) {
      const d = policy.authorize({ idp: idpName(i % 20), claims: POPULATIONS.mixed.claims(i) }, ['KEY_A']);
      assert.deepEqual(d.matched, [i % 10 === 9 ? `rule-${i}` : `clientIdentities[${i}]`], `#${i}`);
      assert.equal(d.granted[0]?.key.roleArn, roleArn(i, 'KEY_A'));
    }
  });

  test("gives every population's token claims the subject its config entry names", () => {
    for (const [name, population] of Object.entries(POPULATIONS)) {
      for (const i of [0, 7, 9_999]) {
        const entry = population.identity(i, idpName(i % 20));
        const claims = population.claims(i);
        if ('subject' in entry) assert.equal(claims.sub, entry.subject, `${name} #${i}`);
        assert.equal(typeof claims.sub, 'string', `${name} #${i}`);
      }
    }
  });

  test('spreads tokens over every identity, and over distinct ones when identities outnumber tokens', () => {
    assert.deepEqual(
      Array.from({ length: 4 }, (_, j) => tokenIdentity(j, 3, 4)),
      [0, 1, 2, 0],
    );
    const many = new Set(Array.from({ length: 3000 }, (_, j) => tokenIdentity(j, 10_000, 3000)));
    assert.equal(many.size, 3000);
    const idps = new Set([...many].map((i) => i % 20));
    assert.equal(idps.size, 20);
  });
});
