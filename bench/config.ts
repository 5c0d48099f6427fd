/**
 * The benchmark's broker configuration: many client IdPs, many identities with
 * three AWS keys each, one STS provider, rate limits off, logging at warn. A
 * pure function of the peers' URLs, so the unit test can validate the very
 * document the benchmark writes.
 */
import { stringify } from 'yaml';

/** Audience of client tokens. */
export const CLIENT_AUDIENCE = 'voidkey-bench';
/** Audience of broker tokens, the client id the STS peer trusts. */
export const STS_AUDIENCE = 'sts.voidkey-bench.test';
/** The broker's client at its IdP. */
export const BROKER_CLIENT_ID = 'voidkey-broker-bench';
/** Environment variable the config reads the broker's client secret from. */
export const SECRET_VARIABLE = 'BENCH_BROKER_CLIENT_SECRET';
/** Keys every identity holds, in request order. */
export const KEY_NAMES = ['KEY_A', 'KEY_B', 'KEY_C'] as const;
/** Name of the single access provider. */
export const PROVIDER_NAME = 'aws-bench';

/** Where the generated config points. */
export interface BenchEndpoints {
  /** One entry per client IdP: its issuer and the JWKS URL the broker should fetch. */
  clientIdps: ReadonlyArray<{ issuer: string; jwksUri: string }>;
  brokerIssuer: string;
  stsEndpoint: string;
}

/** One configured identity. */
export interface BenchIdentity {
  subject: string;
  /** Index into {@link BenchEndpoints.clientIdps}. */
  idp: number;
  /** Role ARN per key name. */
  roles: Record<string, string>;
}

/** Name of client IdP number `i`. */
export function idpName(i: number): string {
  return `ci-${String(i).padStart(2, '0')}`;
}

/** Identity number `i` of `idpCount` IdPs: IdPs are assigned round-robin. */
export function benchIdentity(i: number, idpCount: number): BenchIdentity {
  const roles: Record<string, string> = {};
  for (const key of KEY_NAMES) {
    roles[key] = `arn:aws:iam::123456789012:role/bench-${i}-${key.slice(-1).toLowerCase()}`;
  }
  return { subject: `repo:bench-org/service-${i}:ref:refs/heads/main`, idp: i % idpCount, roles };
}

/** The first `count` identities over `idpCount` IdPs. */
export function benchIdentities(count: number, idpCount: number): BenchIdentity[] {
  return Array.from({ length: count }, (_, i) => benchIdentity(i, idpCount));
}

/** Variations of the bench config. */
export interface BenchOptions {
  /**
   * `logging.level`; default `warn`. At `info` the broker also writes its
   * audit events (two per mint) and fastify's request lines to stdout.
   */
  logLevel?: 'warn' | 'info';
}

/** The broker config (a plain object, as YAML would parse) for `identities` identities. */
export function benchConfig(
  endpoints: BenchEndpoints,
  identities: number,
  options: BenchOptions = {},
): Record<string, unknown> {
  const idpCount = endpoints.clientIdps.length;
  return {
    server: { host: '127.0.0.1', allowInsecureIssuers: true },
    brokerIdp: {
      name: 'bench-broker-idp',
      issuer: endpoints.brokerIssuer,
      audience: STS_AUDIENCE,
      clientId: BROKER_CLIENT_ID,
      clientSecret: `\${${SECRET_VARIABLE}}`,
      clientAuth: 'client_secret_basic',
      audienceParam: 'audience',
    },
    clientIdps: endpoints.clientIdps.map((idp, i) => ({
      name: idpName(i),
      issuer: idp.issuer,
      audience: CLIENT_AUDIENCE,
      jwksUri: idp.jwksUri,
    })),
    accessProviders: [
      {
        name: PROVIDER_NAME,
        type: 'aws-sts',
        region: 'us-east-1',
        endpoint: endpoints.stsEndpoint,
        audience: STS_AUDIENCE,
      },
    ],
    clientIdentities: benchIdentities(identities, idpCount).map((identity) => ({
      subject: identity.subject,
      idp: idpName(identity.idp),
      keys: Object.fromEntries(
        KEY_NAMES.map((key) => [
          key,
          { provider: PROVIDER_NAME, roleArn: identity.roles[key], duration: 900 },
        ]),
      ),
    })),
    rateLimit: { enabled: false },
    logging: { level: options.logLevel ?? 'warn', format: 'json' },
  };
}

/** {@link benchConfig} as the YAML file the broker reads. */
export function benchConfigYaml(
  endpoints: BenchEndpoints,
  identities: number,
  options: BenchOptions = {},
): string {
  return stringify(benchConfig(endpoints, identities, options), { lineWidth: 0 });
}
