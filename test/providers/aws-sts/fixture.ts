/**
 * Local peers for the STS tests: a signing key published on a local JWKS
 * (the broker IdP as STS sees it) and the development STS endpoint trusting it.
 */
import type { KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import type { AccessProviderConfig, KeyConfig } from '../../../src/core/config/schema.ts';
import type { MintInput, Telemetry } from '../../../src/core/types.ts';
import { detachKeyPair } from '../../../src/dev/keys.ts';
import type { ProviderDeps } from '../../../src/providers/types.ts';

export const STS_AUDIENCE = 'sts.voidkey.test';
export const ROLE = 'arn:aws:iam::123456789012:role/Deploy';
export const TARGET_ROLE = 'arn:aws:iam::210987654321:role/Target';
export const GITHUB_SUB = 'repo:myorg/myapp:ref:refs/heads/main';

type Key = KeyObject;

/** A key pair, its JWKS served on 127.0.0.1, and a token signer. */
export interface TestIssuer {
  issuer: string;
  jwksUri: string;
  jwksRequests: number;
  /** Signs a broker token; `key` swaps in another signing key (bad signature). */
  sign(claims?: JWTPayload, options?: { key?: Key; ttl?: number; iss?: string }): Promise<string>;
  otherKey: Key;
  close(): void;
}

/** Starts the JWKS endpoint with a fresh ES256 key. */
export async function startTestIssuer(): Promise<TestIssuer> {
  const { privateKey, publicKey } = detachKeyPair(await generateKeyPair('ES256', { extractable: true }));
  const other = detachKeyPair(await generateKeyPair('ES256', { extractable: true }));
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const state = { jwksRequests: 0 };
  const server: Server = createServer((_req, res) => {
    state.jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    get jwksRequests() {
      return state.jwksRequests;
    },
    otherKey: other.privateKey,
    sign(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub: 'broker-service', aud: STS_AUDIENCE, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(options.iss ?? issuer)
        .setIssuedAt(now)
        .setExpirationTime(now + (options.ttl ?? 600))
        .sign(options.key ?? privateKey);
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** An aws-sts provider config pointing at `endpoint`. */
export function providerConfig(
  endpoint: string,
  extra: Partial<AccessProviderConfig> = {},
): AccessProviderConfig {
  return { name: 'aws-test', type: 'aws-sts', region: 'us-east-1', endpoint, ...extra };
}

/** Provider deps with fast retries. */
export function deps(extra: Partial<ProviderDeps> = {}): ProviderDeps {
  return { httpTimeout: 2000, maxRetries: 2, retryDelay: 1, brokerAudience: STS_AUDIENCE, ...extra };
}

/** A mint input for `key` with the GitHub subject. */
export function mintInput(
  brokerToken: string,
  key: Partial<KeyConfig> = {},
  extra: Partial<MintInput> = {},
): MintInput {
  return {
    keyName: 'AWS_DEPLOY',
    key: { provider: 'aws-test', roleArn: ROLE, ...key },
    durationSeconds: 900,
    brokerToken,
    subject: GITHUB_SUB,
    issuer: 'https://token.actions.githubusercontent.com',
    signal: new AbortController().signal,
    ...extra,
  };
}

/** Telemetry that records provider calls as `operation:result`. */
export function captureCalls(): Telemetry & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    tokenVerification() {},
    jwksFetch() {},
    brokerTokenRefresh() {},
    providerCall: (_provider, operation, result) => {
      calls.push(`${operation}:${result}`);
    },
  };
}
