/**
 * The broker configurations the benchmark runs: many client IdPs, one STS
 * provider, rate limits off, logging at warn, and a *population* of
 * identities. A pure function of the peers' URLs, so test/bench can validate
 * the very document the benchmark writes.
 *
 * A population says how identity `i` is written in the config and which
 * claims a token of identity `i` carries. Adding one (say, a mix of rule
 * forms) is one entry in {@link POPULATIONS}; run.ts names it in a variant.
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
const PROVIDER = 'aws-bench';

/** Where the generated config points. */
export interface BenchEndpoints {
  /** One entry per client IdP: its issuer and the JWKS URL the broker should fetch. */
  clientIdps: ReadonlyArray<{ issuer: string; jwksUri: string }>;
  brokerIssuer: string;
  stsEndpoint: string;
}

/** Name of client IdP number `i`. */
export function idpName(i: number): string {
  return `ci-${String(i).padStart(2, '0')}`;
}

/** Role ARN of `key` for identity `i`. */
export function roleArn(i: number, key: string): string {
  return `arn:aws:iam::123456789012:role/bench-${i}-${key.slice(-1).toLowerCase()}`;
}

/** The keys of identity `i`: one role per key name. */
function keysOf(i: number) {
  return Object.fromEntries(
    KEY_NAMES.map((key) => [key, { provider: PROVIDER, roleArn: roleArn(i, key), duration: 900 }]),
  );
}

/** How a population's identities look in the config and in their tokens. */
export interface Population {
  /** The `clientIdentities` entry of identity `i`, bound to IdP `idp`. */
  identity(i: number, idp: string): Record<string, unknown>;
  /** The claims (besides iss, aud, iat, exp) of a token that identity `i` accepts. */
  claims(i: number): Record<string, unknown>;
  /** Top-level config sections the population needs besides `clientIdentities`. */
  sections?: Record<string, unknown>;
}

/** Subject of identity `i` of the exact-subject population. */
export function benchSubject(i: number): string {
  return `repo:bench-org/service-${i}:ref:refs/heads/main`;
}

/** The populations by name. Identity `i` always belongs to IdP `i mod idps`. */
export const POPULATIONS = {
  /** One exact `sub` per identity: today's config form. */
  exact: {
    identity: (i, idp) => ({ subject: benchSubject(i), idp, keys: keysOf(i) }),
    claims: (i) => ({ sub: benchSubject(i) }),
  },
  /** 90 % exact subjects; every 10th a claim rule: equality, a glob on `sub`, or (1 in 100) a regex. */
  mixed: {
    identity: (i, idp) => {
      if (i % 10 !== 9) return { subject: benchSubject(i), idp, keys: keysOf(i) };
      const r = { name: `rule-${i}`, idp, keys: keysOf(i) };
      if (i % 1000 === 999) return { ...r, match: { sub: { regex: `repo:bench-org/svc-${i}-[a-z]+:.*` } } };
      if (i % 20 === 9) return { ...r, match: { repository_id: String(i), ref: 'refs/heads/main' } };
      return { ...r, match: { sub: { glob: `repo:bench-org/svc-${i}-*:ref:refs/heads/*` } } };
    },
    claims: (i) =>
      i % 10 !== 9 || i % 20 === 9
        ? { sub: benchSubject(i), repository_id: String(i), ref: 'refs/heads/main' }
        : { sub: `repo:bench-org/svc-${i}-x:ref:refs/heads/main` },
  },
} satisfies Record<string, Population>;

export type PopulationName = keyof typeof POPULATIONS;

/** Options of {@link benchConfig}. */
export interface BenchOptions {
  population?: PopulationName;
  /** `logging.level`; default `warn`. */
  logLevel?: 'warn' | 'info';
}

/** The broker config (a plain object, as YAML would parse) for `identities` identities. */
export function benchConfig(
  endpoints: BenchEndpoints,
  identities: number,
  options: BenchOptions = {},
): Record<string, unknown> {
  const population: Population = POPULATIONS[options.population ?? 'exact'];
  const idps = endpoints.clientIdps.length;
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
        name: PROVIDER,
        type: 'aws-sts',
        region: 'us-east-1',
        endpoint: endpoints.stsEndpoint,
        audience: STS_AUDIENCE,
      },
    ],
    clientIdentities: Array.from({ length: identities }, (_, i) => population.identity(i, idpName(i % idps))),
    ...population.sections,
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

/**
 * Which identity the `j`-th of `count` tokens belongs to: round-robin, and
 * with more identities than tokens a prime stride, so every IdP is visited.
 */
export function tokenIdentity(j: number, identities: number, count: number): number {
  return identities <= count ? j % identities : (j * 7919) % identities;
}
