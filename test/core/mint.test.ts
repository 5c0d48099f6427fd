import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BrokerError,
  ForbiddenError,
  InvalidRequestError,
  InvalidTokenError,
  MintFailedError,
  ServiceUnavailableError,
  SubjectNotFoundError,
} from '../../src/core/errors.ts';
import type { MintError, ReplayGuard } from '../../src/core/mint/index.ts';
import type { VerifiedToken } from '../../src/core/types.ts';
import {
  branchDenyRule,
  callerOf,
  defaultOutput,
  errorOf,
  MAIN_SUBJECT,
  NOW,
  providerOf,
  TOKENS,
  testConfig,
  UpstreamError,
  world,
} from '../server/helpers.ts';

const signal = () => AbortSignal.timeout(5000);

function mainCaller(w: ReturnType<typeof world>): Promise<VerifiedToken> {
  return callerOf(w, TOKENS.main);
}

function totalMintCalls(w: ReturnType<typeof world>): number {
  return [...w.providers.values()].reduce((n, p) => n + p.calls.length, 0);
}

describe('mint use case', () => {
  test('maps outputs: provider fields, { value } literals, and strings that name no field', async () => {
    const w = world();
    const { response } = await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY'] }, signal());
    assert.deepEqual(response.credentials, {
      AWS_DEPLOY: {
        AWS_ACCESS_KEY_ID: 'AKIAAWS_DEPLOY',
        AWS_SECRET_ACCESS_KEY: 'secret-AWS_DEPLOY',
        AWS_SESSION_TOKEN: 'session-AWS_DEPLOY',
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
      },
    });
  });

  test('uses the provider type’s default outputs for a key without outputs', async () => {
    const w = world();
    const { response } = await w.broker.mint(
      await mainCaller(w),
      { keys: ['AWS_READ', 'MINIO_STORAGE', 'GCP_DEPLOY', 'AZURE_DEPLOY'] },
      signal(),
    );
    assert.deepEqual(response.credentials.AWS_READ, {
      AWS_ACCESS_KEY_ID: 'AKIAAWS_READ',
      AWS_SECRET_ACCESS_KEY: 'secret-AWS_READ',
      AWS_SESSION_TOKEN: 'session-AWS_READ',
    });
    assert.deepEqual(response.credentials.MINIO_STORAGE, {
      MINIO_ACCESS_KEY: 'AKIAMINIO_STORAGE',
      MINIO_SECRET_KEY: 'secret-MINIO_STORAGE',
      MINIO_SESSION_TOKEN: 'session-MINIO_STORAGE',
    });
    assert.deepEqual(response.credentials.GCP_DEPLOY, {
      GOOGLE_OAUTH_ACCESS_TOKEN: 'access-GCP_DEPLOY',
      GOOGLE_TOKEN_EXPIRY: new Date(NOW.getTime() + 3600_000).toISOString(),
    });
    assert.deepEqual(Object.keys(response.credentials.AZURE_DEPLOY ?? {}), [
      'AZURE_ACCESS_TOKEN',
      'AZURE_TOKEN_EXPIRY',
    ]);
  });

  test('answers the credentials, the earliest expiry, the subject, the issue time and each key’s expiry', async () => {
    const w = world();
    const { response } = await w.broker.mint(
      await mainCaller(w),
      { keys: ['AWS_READ', 'AWS_DEPLOY'] },
      signal(),
    );
    assert.deepEqual(Object.keys(response), [
      'credentials',
      'expiresAt',
      'subject',
      'issuedAt',
      'keyExpiresAt',
    ]);
    assert.equal(response.subject, MAIN_SUBJECT);
    assert.equal(response.issuedAt, NOW.toISOString());
    assert.deepEqual(response.keyExpiresAt, {
      AWS_READ: new Date(NOW.getTime() + 3600_000).toISOString(),
      AWS_DEPLOY: new Date(NOW.getTime() + 1800_000).toISOString(),
    });
    assert.equal(response.expiresAt, new Date(NOW.getTime() + 1800_000).toISOString());
  });

  test('returns one audit entry per key without any secret', async () => {
    const w = world();
    const { audit } = await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY'] }, signal());
    assert.deepEqual(audit, [
      {
        key: 'AWS_DEPLOY',
        provider: 'aws-prod',
        role: 'arn:aws:iam::123456789012:role/Deploy',
        accessKeyId: 'AKIAAWS_DEPLOY',
        upstreamRequestId: 'req-aws-prod',
        expiresAt: new Date(NOW.getTime() + 1800_000).toISOString(),
      },
    ]);
    assert.doesNotMatch(JSON.stringify(audit), /secret-|session-/);
  });

  test('passes the caller, the broker token of the provider’s audience, the duration and the signal', async () => {
    const w = world();
    const s = signal();
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY'] }, s);
    const [input] = providerOf(w, 'aws-prod').calls;
    assert.equal(input?.subject, MAIN_SUBJECT);
    assert.equal(input?.issuer, 'https://token.actions.githubusercontent.com');
    assert.equal(input?.brokerToken, 'broker-token-for-sts.aws');
    assert.equal(input?.durationSeconds, 1800);
    assert.equal(input?.signal, s);
  });

  test('refuses with every denied key before any upstream call', async () => {
    const w = world();
    const caller = await mainCaller(w);
    const error = await errorOf(() =>
      w.broker.mint(caller, { keys: ['AWS_DEPLOY', 'NOPE', 'AWS_READ', 'ALSO_NOPE'] }, signal()),
    );
    assert.ok(error instanceof ForbiddenError);
    assert.deepEqual(error.details, {
      deniedKeys: ['NOPE', 'ALSO_NOPE'],
      reasons: { NOPE: 'key_not_granted', ALSO_NOPE: 'key_not_granted' },
    });
    assert.equal(totalMintCalls(w), 0);
    assert.deepEqual(w.brokerTokens.calls, []);
  });

  /** Asserts that the holder of `token`, matching no identity, is refused `key` with no_identity_matched. */
  async function refusedWithoutIdentity(token: string, key: string) {
    const w = world();
    const caller = await callerOf(w, token);
    const error = await errorOf(() => w.broker.mint(caller, { keys: [key] }, signal()));
    assert.ok(error instanceof ForbiddenError);
    assert.deepEqual(error.details, { deniedKeys: [key], reasons: { [key]: 'no_identity_matched' } });
    assert.equal(totalMintCalls(w), 0);
  }

  test('gives nothing to a configured subject presented by another IdP', () =>
    refusedWithoutIdentity(TOKENS.gitlabMain, 'AWS_DEPLOY'));

  test('gives nothing to a verified subject without any identity', () =>
    refusedWithoutIdentity(TOKENS.stranger, 'AWS_READ'));

  test('refuses a duration above a key’s maximum with 400 naming key and maximum, and mints nothing', async () => {
    const w = world();
    const caller = await mainCaller(w);
    const error = await errorOf(() =>
      w.broker.mint(caller, { keys: ['AWS_READ', 'AWS_DEPLOY'], duration: 3600 }, signal()),
    );
    assert.ok(error instanceof InvalidRequestError);
    assert.equal(error.message, 'Requested duration 3600 s exceeds the maximum of 1800 s for key AWS_DEPLOY');
    assert.deepEqual(error.details, { key: 'AWS_DEPLOY', maxDuration: 1800 });
    assert.equal(totalMintCalls(w), 0);
    assert.deepEqual(w.brokerTokens.calls, []);
  });

  test('raises a requested duration below the provider minimum to the minimum', async () => {
    const w = world();
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_READ', 'GCP_DEPLOY'], duration: 60 }, signal());
    assert.equal(providerOf(w, 'aws-dev').calls[0]?.durationSeconds, 900);
    assert.equal(providerOf(w, 'gcp-prod').calls[0]?.durationSeconds, 60);
  });

  test('refuses a requested duration for an azure key', async () => {
    const w = world();
    await assert.rejects(
      w.broker.mint(await mainCaller(w), { keys: ['AZURE_DEPLOY'], duration: 900 }, signal()),
      (err: unknown) => err instanceof InvalidRequestError && err.status === 400,
    );
    assert.equal(totalMintCalls(w), 0);
  });

  test('asks for one broker token per distinct audience', async () => {
    const w = world();
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'AWS_READ', 'MINIO_STORAGE'] }, signal());
    assert.deepEqual(w.brokerTokens.calls, ['sts.aws', 'minio']);
  });

  test('takes broker tokens at hand without asking for them', async () => {
    const w = world({ cachedAudiences: ['sts.aws', 'minio'] });
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'MINIO_STORAGE'] }, signal());
    assert.deepEqual(w.brokerTokens.calls, []);
    assert.equal(providerOf(w, 'aws-prod').calls[0]?.brokerToken, 'broker-token-for-sts.aws');
    assert.equal(providerOf(w, 'minio-local').calls[0]?.brokerToken, 'broker-token-for-minio');
  });

  test('asks for every audience’s token when one of them is not at hand', async () => {
    const w = world({ cachedAudiences: ['sts.aws'] });
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'MINIO_STORAGE'] }, signal());
    assert.deepEqual(w.brokerTokens.calls, ['sts.aws', 'minio']);
    assert.equal(providerOf(w, 'minio-local').calls[0]?.brokerToken, 'broker-token-for-minio');
  });

  test('mints several keys concurrently', async () => {
    const w = world();
    let started = 0;
    let release: () => void = () => {};
    const allStarted = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const p of w.providers.values()) {
      p.behaviour = async (input) => {
        started += 1;
        if (started === 3) release();
        await Promise.race([
          allStarted,
          new Promise((_, reject) => setTimeout(() => reject(new Error('sequential')), 1000)),
        ]);
        return defaultOutput(p.name, input);
      };
    }
    const { response } = await w.broker.mint(
      await mainCaller(w),
      { keys: ['AWS_DEPLOY', 'MINIO_STORAGE', 'GCP_DEPLOY'] },
      signal(),
    );
    assert.deepEqual(Object.keys(response.credentials), ['AWS_DEPLOY', 'MINIO_STORAGE', 'GCP_DEPLOY']);
    assert.equal(started, 3);
  });

  test('fails as a whole with 502 listing every refused key, and reports what was discarded', async () => {
    const w = world();
    const refuse = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    providerOf(w, 'aws-prod').behaviour = refuse;
    providerOf(w, 'minio-local').behaviour = refuse;
    const caller = await mainCaller(w);
    const error = await errorOf(() =>
      w.broker.mint(caller, { keys: ['AWS_DEPLOY', 'AWS_READ', 'MINIO_STORAGE'] }, signal()),
    );
    assert.ok(error instanceof MintFailedError);
    assert.equal(error.status, 502);
    assert.deepEqual(error.details, {
      failures: [
        { key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'AccessDenied' },
        { key: 'MINIO_STORAGE', provider: 'minio-local', reason: 'AccessDenied' },
      ],
    });
    assert.deepEqual(
      (error as typeof error & MintError).discarded.map((a) => a.key),
      ['AWS_READ'],
    );
  });

  test('fails with 503 when any failed key was unavailable', async () => {
    const w = world();
    providerOf(w, 'aws-prod').behaviour = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    providerOf(w, 'minio-local').behaviour = async () => {
      throw new UpstreamError('unavailable', 'throttled');
    };
    await assert.rejects(
      w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'MINIO_STORAGE'] }, signal()),
      (err: unknown) =>
        err instanceof ServiceUnavailableError &&
        JSON.stringify(err.details) ===
          JSON.stringify({
            reason: 'unavailable',
            failures: [
              { key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'AccessDenied' },
              { key: 'MINIO_STORAGE', provider: 'minio-local', reason: 'throttled' },
            ],
          }),
    );
  });

  test('fails the keys of an audience whose broker token cannot be had, minting nothing', async () => {
    const w = world({ failAudiences: { minio: new UpstreamError('unavailable', 'broker IdP unreachable') } });
    await assert.rejects(
      w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'MINIO_STORAGE'] }, signal()),
      (err: unknown) =>
        err instanceof ServiceUnavailableError &&
        JSON.stringify(err.details) ===
          JSON.stringify({
            reason: 'unavailable',
            failures: [{ key: 'MINIO_STORAGE', provider: 'minio-local', reason: 'broker IdP unreachable' }],
          }),
    );
    assert.equal(totalMintCalls(w), 0);
  });

  test('lets a provider bug surface as a plain error (a 500), not as an upstream failure', async () => {
    const w = world();
    providerOf(w, 'aws-prod').behaviour = async () => {
      throw new TypeError('cannot read properties of undefined');
    };
    await assert.rejects(
      w.broker.mint(await mainCaller(w), { keys: ['AWS_DEPLOY', 'AWS_READ'] }, signal()),
      (err: unknown) =>
        err instanceof TypeError &&
        !(err instanceof BrokerError) &&
        (err as TypeError & MintError).discarded.map((a) => a.key).join() === 'AWS_READ',
    );
  });
});

describe('a single key that fails', () => {
  const failing = async (failure: Error) => {
    const w = world({ cachedAudiences: ['sts.aws'] });
    providerOf(w, 'aws-prod').behaviour = async () => {
      throw failure;
    };
    const caller = await mainCaller(w);
    return errorOf(() => w.broker.mint(caller, { keys: ['AWS_DEPLOY'] }, signal()));
  };

  test('is a 502 listing the key when refused, with nothing discarded', async () => {
    const error = await failing(new UpstreamError('refused', 'AccessDenied'));
    assert.ok(error instanceof MintFailedError);
    assert.deepEqual(error.details, {
      failures: [{ key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'AccessDenied' }],
    });
    assert.deepEqual((error as typeof error & MintError).discarded, []);
  });

  test('is a 503 listing the key when unavailable, with a reason a client may retry on', async () => {
    const error = await failing(new UpstreamError('unavailable', 'throttled'));
    assert.ok(error instanceof ServiceUnavailableError);
    assert.deepEqual(error.details, {
      reason: 'unavailable',
      failures: [{ key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'throttled' }],
    });
  });

  test('is a 503 deadline_exceeded when the request deadline passed during the call', async () => {
    const w = world({ cachedAudiences: ['sts.aws'] });
    const controller = new AbortController();
    providerOf(w, 'aws-prod').behaviour = async () => {
      controller.abort();
      throw new Error('socket closed');
    };
    const caller = await mainCaller(w);
    const error = await errorOf(() => w.broker.mint(caller, { keys: ['AWS_DEPLOY'] }, controller.signal));
    assert.ok(error instanceof ServiceUnavailableError);
    assert.deepEqual(error.details, {
      reason: 'deadline_exceeded',
      failures: [{ key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'request deadline exceeded' }],
    });
  });

  test('surfaces a provider bug as the plain error', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    assert.equal(await failing(bug), bug);
  });
});

describe('authentication', () => {
  test('passes verifier errors through unchanged', async () => {
    const w = world();
    await assert.rejects(
      w.broker.authenticate('a.b.c', signal()),
      (err: unknown) => err instanceof InvalidTokenError && err.reason === 'signature_invalid',
    );
  });

  test('turns anything else a verifier throws into a 401, never a 500', async () => {
    const w = world();
    w.verifier.verify = async () => {
      throw new RangeError('crypto exploded');
    };
    await assert.rejects(
      w.broker.authenticate('a.b.c', signal()),
      (err: unknown) => err instanceof InvalidTokenError && err.status === 401,
    );
  });
});

describe('one-time tokens', () => {
  function guard() {
    const log: string[] = [];
    const replayGuard: ReplayGuard = {
      async claim(verified, ttlMs) {
        log.push(`claim ${verified.tokenId} ${ttlMs}`);
      },
      async release(verified) {
        log.push(`release ${verified.tokenId}`);
      },
    };
    return { log, replayGuard };
  }
  function oneTimeConfig() {
    const config = testConfig();
    const github = config.clientIdps[0];
    if (github) github.oneTimeUse = true;
    return config;
  }

  test('claims the token after the policy check, for its remaining lifetime plus clock tolerance', async () => {
    const { log, replayGuard } = guard();
    const w = world({ config: oneTimeConfig(), replayGuard });
    const caller = await mainCaller(w);
    await assert.rejects(w.broker.mint(caller, { keys: ['NOPE'] }, signal()), ForbiddenError);
    assert.deepEqual(log, []);
    await w.broker.mint(caller, { keys: ['AWS_READ'] }, signal());
    assert.deepEqual(log, [`claim jti-${MAIN_SUBJECT} ${(600 + 30) * 1000}`]);
  });

  test('releases the token when every key failed, keeps it when one was minted', async () => {
    const { log, replayGuard } = guard();
    const w = world({ config: oneTimeConfig(), replayGuard });
    providerOf(w, 'aws-prod').behaviour = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    const caller = await mainCaller(w);
    await assert.rejects(w.broker.mint(caller, { keys: ['AWS_DEPLOY'] }, signal()), MintFailedError);
    assert.deepEqual(log.slice(-1), [`release jti-${MAIN_SUBJECT}`]);
    await assert.rejects(
      w.broker.mint(caller, { keys: ['AWS_DEPLOY', 'AWS_READ'] }, signal()),
      MintFailedError,
    );
    assert.match(log.at(-1) ?? '', /^claim /);
  });

  test("runs the caller's last check after the policy, before the claim and any upstream call", async () => {
    const { log, replayGuard } = guard();
    const w = world({ config: oneTimeConfig(), replayGuard });
    const caller = await mainCaller(w);
    const checks: string[] = [];
    const refuse = async () => {
      checks.push('check');
      throw new ServiceUnavailableError({ details: { reason: 'audit_write_failed' } });
    };
    await assert.rejects(
      w.broker.mint(caller, { keys: ['NOPE'], beforeUpstream: refuse }, signal()),
      ForbiddenError,
    );
    assert.deepEqual(checks, []);
    await assert.rejects(
      w.broker.mint(caller, { keys: ['AWS_READ'], beforeUpstream: refuse }, signal()),
      (err: unknown) =>
        err instanceof ServiceUnavailableError && err.details?.reason === 'audit_write_failed',
    );
    assert.deepEqual(checks, ['check']);
    assert.deepEqual(log, []);
    assert.deepEqual(w.brokerTokens.calls, []);
    assert.equal(totalMintCalls(w), 0);
  });

  test('does not claim tokens of IdPs without oneTimeUse', async () => {
    const { log, replayGuard } = guard();
    const w = world({ replayGuard });
    await w.broker.mint(await mainCaller(w), { keys: ['AWS_READ'] }, signal());
    assert.deepEqual(log, []);
  });
});

describe('key listing', () => {
  test('lists every key with its provider, description and maximum duration', async () => {
    const w = world();
    assert.deepEqual(w.broker.listKeys(await mainCaller(w)), {
      subject: MAIN_SUBJECT,
      idp: 'github',
      keys: [
        { name: 'AWS_DEPLOY', provider: 'aws-prod', description: 'Deploy to production', maxDuration: 1800 },
        { name: 'AWS_READ', provider: 'aws-dev', maxDuration: 43200 },
        { name: 'AWS_CHAINED', provider: 'aws-dev', maxDuration: 3600 },
        { name: 'MINIO_STORAGE', provider: 'minio-local', maxDuration: 3600 },
        { name: 'GCP_DEPLOY', provider: 'gcp-prod', maxDuration: 43200 },
        { name: 'AZURE_DEPLOY', provider: 'azure-prod', maxDuration: null },
      ],
    });
  });

  test('answers SUBJECT_NOT_FOUND for a subject without identity, including one bound to another IdP', async () => {
    const w = world();
    for (const token of [TOKENS.stranger, TOKENS.gitlabMain]) {
      const caller = await callerOf(w, token);
      assert.throws(() => w.broker.listKeys(caller), SubjectNotFoundError);
    }
  });

  test('lists no keys, rather than SUBJECT_NOT_FOUND, when identities match but every key is denied', async () => {
    const w = world({ config: testConfig({ denyRules: [branchDenyRule('freeze', ['*'])] }) });
    assert.deepEqual(w.broker.listKeys(await mainCaller(w)), {
      subject: MAIN_SUBJECT,
      idp: 'github',
      keys: [],
    });
  });

  test('leaves out a denied key', async () => {
    const w = world({ config: testConfig({ denyRules: [branchDenyRule('no-reads', ['AWS_READ'])] }) });
    assert.deepEqual(
      w.broker.listKeys(await mainCaller(w)).keys.map((k) => k.name),
      ['AWS_DEPLOY', 'AWS_CHAINED', 'MINIO_STORAGE', 'GCP_DEPLOY', 'AZURE_DEPLOY'],
    );
  });

  test('describes client IdPs with their first audience, none when any audience is accepted', () => {
    const w = world();
    assert.deepEqual(w.broker.idpProviders(), {
      providers: [
        {
          name: 'github',
          issuer: 'https://token.actions.githubusercontent.com',
          type: 'oidc',
          audience: 'voidkey',
        },
        { name: 'gitlab', issuer: 'https://gitlab.example.com', type: 'oidc', audience: 'vk-gitlab' },
        { name: 'anyaud', issuer: 'https://any.example.com', type: 'oidc' },
      ],
    });
  });
});

describe('refusal reasons and explanations', () => {
  const noReads = (explain: boolean) =>
    world({
      config: testConfig({ server: { explain }, denyRules: [branchDenyRule('no-reads', ['AWS_READ'])] }),
    });

  test('a refusal gives one reason per denied key, and no explanation without server.explain', async () => {
    const w = noReads(false);
    const caller = await mainCaller(w);
    const error = await errorOf(() =>
      w.broker.mint(caller, { keys: ['AWS_READ', 'NOPE', 'AWS_DEPLOY'] }, signal()),
    );
    assert.ok(error instanceof ForbiddenError);
    assert.deepEqual(error.details, {
      deniedKeys: ['AWS_READ', 'NOPE'],
      reasons: { AWS_READ: 'denied_by_rule', NOPE: 'key_not_granted' },
    });
  });

  test('with server.explain a refusal carries the caller’s explanation: identities by label, conditions by outcome, rules by name', async () => {
    const w = noReads(true);
    const caller = await mainCaller(w);
    const error = await errorOf(() => w.broker.mint(caller, { keys: ['AWS_READ'] }, signal()));
    assert.ok(error instanceof ForbiddenError);
    const details = error.details as { reasons: unknown; explanation: { keys: Record<string, unknown> } };
    assert.deepEqual(details.reasons, { AWS_READ: 'denied_by_rule' });
    assert.deepEqual(details.explanation.keys.AWS_READ, {
      decision: 'deny',
      reason: 'denied_by_rule',
      identities: [
        { identity: 'clientIdentities[0]', matched: true, branches: [[{ claim: 'sub', result: 'pass' }]] },
      ],
      unpinnedIdentities: 0,
      moreIdentities: 0,
      denyRules: [{ name: 'no-reads', message: 'Reads are frozen.' }],
    });
  });

  test('explains a request without minting or asking for a broker token', async () => {
    const w = noReads(true);
    const { explanation } = w.broker.explain(await mainCaller(w), ['AWS_DEPLOY']);
    assert.equal(explanation.keys.AWS_DEPLOY?.decision, 'allow');
    assert.deepEqual(w.brokerTokens.calls, []);
    assert.equal(totalMintCalls(w), 0);
  });
});
