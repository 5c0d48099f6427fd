/**
 * The one configuration schema (docs/configuration.md). It is the source of the TypeScript
 * type, of validation (unknown fields refused, every error with its path) and
 * of docs/configuration.md. Per-provider-type rules that a flat schema cannot
 * express (required and forbidden fields by `type`) live in cross-checks.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

const Str = (description: string, extra: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, description, ...extra });
const Int = (description: string, def: number | undefined, min = 0, max?: number) =>
  Type.Integer({
    description,
    minimum: min,
    ...(max === undefined ? {} : { maximum: max }),
    ...(def === undefined ? {} : { default: def }),
  });
const Bool = (description: string, def: boolean) => Type.Boolean({ description, default: def });
const StrList = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description });
const StrMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });

/** Signature algorithms a client token may use (docs/security.md). */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
] as const;
export type AllowedAlgorithm = (typeof ALLOWED_ALGORITHMS)[number];

/** Access-provider types this build knows (docs/configuration.md). */
export const PROVIDER_TYPES = ['aws-sts', 'minio', 'gcp', 'azure'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

const Literals = <T extends readonly string[]>(values: T, description: string, def?: T[number]) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description, ...(def === undefined ? {} : { default: def }) },
  ) as unknown as TSchema;

/** Most proxy hops `trustProxy` may count: more is a mistake, and would trust client-written addresses. */
export const MAX_PROXY_HOPS = 10;

export const ServerSchema = Type.Object(
  {
    host: Type.String({ description: 'Address to listen on.', default: '0.0.0.0' }),
    port: Int('TCP port. Overridden by `--port` and `$PORT`.', 3000, 0, 65535),
    trustProxy: Type.Union(
      [
        Type.Literal(false),
        Type.Integer({ minimum: 0, maximum: MAX_PROXY_HOPS, description: 'number of proxy hops to trust' }),
        Type.Array(Type.String({ minLength: 1 }), { description: 'CIDRs or addresses of trusted proxies' }),
      ],
      {
        description:
          'Whose `X-Forwarded-For` to believe: `false`, a hop count (at most 10), or a list of proxy CIDRs. `true` is refused: it trusts any client; so is a list that together covers every address (`0.0.0.0/0`, `::/0`, `0.0.0.0/1` with `128.0.0.0/1`, `::ffff:0:0/96`).',
        default: false,
      },
    ),
    bodyLimit: Int('Largest accepted request body, bytes.', 65536, 1),
    requestTimeout: Int('One deadline per request, ms; every outbound retry happens inside it.', 10000, 1),
    shutdownGracePeriod: Int('Time to finish in-flight requests after SIGTERM, ms.', 15000, 0),
    drainDelay: Int('Time to keep serving after readiness turns false on SIGTERM, ms.', 0, 0),
    allowQueryToken: Bool(
      'Accept `?token=` on `GET /credentials/keys` (off: tokens in URLs leak into logs).',
      false,
    ),
    allowInsecureIssuers: Bool(
      'Permit `http://` issuers and provider endpoints. Development only; warned at every start.',
      false,
    ),
    explain: Bool(
      'Policy explanations for callers: `details.explanation` on 403s and `POST /credentials/explain`. Reveals key and identity names to every token of an IdP.',
      false,
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Str('PEM certificate chain file (relative to the config file that sets it).'),
          key: Str('PEM private key file (relative to the config file that sets it).'),
        },
        { ...strict, description: 'Serve HTTPS natively (TLS ≥ 1.2). Reloaded on SIGHUP.' },
      ),
    ),
    cors: Type.Optional(
      Type.Object(
        {
          origins: Type.Array(Type.String({ minLength: 1 }), {
            description: 'Exact origins allowed; never `*`.',
          }),
        },
        { ...strict, description: 'CORS for browser callers; closed unless configured.' },
      ),
    ),
  },
  { ...strict, description: 'HTTP server settings.', default: {} },
);

export const BrokerIdpSchema = Type.Object(
  {
    name: Str('Name of the broker IdP (for logs and health).'),
    issuer: Str('Issuer URL of the broker’s own IdP.'),
    audience: Type.Optional(
      Str('Default audience of broker tokens; a provider’s own `audience` overrides it for that provider.'),
    ),
    clientId: Str('The broker’s client id at its IdP.'),
    clientSecret: Type.Optional(
      Str('Client secret (for `client_secret_basic` / `client_secret_post`). Use `${VAR}` or `${file:…}`.'),
    ),
    clientAuth: Literals(
      ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const,
      'How the broker authenticates at the token endpoint.',
      'client_secret_basic',
    ),
    privateKeyFile: Type.Optional(
      Str('PEM private key for `private_key_jwt` (relative to the config file that sets it).'),
    ),
    tokenEndpoint: Type.Optional(Str('Token endpoint; else taken from the issuer’s discovery document.')),
    audienceParam: Literals(
      ['audience', 'resource', 'scope'] as const,
      'Form parameter that asks for the token audience.',
      'audience',
    ),
    scopes: Type.Optional(StrList('Extra scopes requested with every broker token.')),
  },
  { ...strict, description: 'The broker’s own identity (client-credentials grant).' },
);

const KEY_NAME_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

/** A claim condition: scalar, list of scalars, or a one-operator map (checked in detail by the policy compiler). */
function ConditionSchema() {
  const scalar = Type.Union([Type.String(), Type.Integer(), Type.Boolean()]);
  return Type.Union(
    [
      scalar,
      Type.Array(scalar, { minItems: 1, maxItems: 64 }),
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          'equals | glob | regex | not | present | containsAll | every, optionally with ignoreCase',
      }),
    ],
    {
      description:
        'A value (equals), a list (equals any), or { equals | glob | regex | not | present | containsAll | every: … , ignoreCase? }.',
    },
  );
}

/** `match`: one branch (claim → condition, ANDed) or a list of branches (ORed). */
const MatchSchema = Type.Union(
  [
    Type.Record(Type.String(), ConditionSchema()),
    Type.Array(Type.Record(Type.String(), ConditionSchema()), { minItems: 1, maxItems: 16 }),
  ],
  { description: 'Claim conditions: a map is one branch (AND); a list of maps is OR of branches (≤ 16).' },
);

export const ClientIdpSchema = Type.Object(
  {
    name: Str('Name used by `clientIdentities[].idp`.'),
    issuer: Str('Exact `iss` of tokens from this IdP.'),
    audience: Type.Optional(
      Type.Union([Str('one audience'), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
        description: 'Audience(s) a token must carry one of. Required unless `allowAnyAudience`.',
      }),
    ),
    allowAnyAudience: Bool(
      'Accept any audience (the only way to omit `audience`); warned at every start.',
      false,
    ),
    jwksUri: Type.Optional(Str('JWKS URL; else from the issuer’s discovery document.')),
    algorithms: Type.Optional(
      Type.Array(Literals(ALLOWED_ALGORITHMS, 'algorithm'), {
        minItems: 1,
        description: `Subset of the allowed algorithms (${ALLOWED_ALGORITHMS.join(', ')}).`,
      }),
    ),
    clockTolerance: Int('Clock skew tolerated for exp/nbf/iat, seconds.', 30, 0, 300),
    maxTokenLifetime: Int(
      'Longest accepted token lifetime (exp − iat, or exp − now without iat), seconds.',
      86400,
      1,
    ),
    oneTimeUse: Bool('Each token (by iss + jti) mints once, across all instances.', false),
    require: Type.Optional(
      Type.Record(Type.String(), ConditionSchema(), {
        description: 'Claim conditions ANDed into every identity and deny rule of this IdP.',
      }),
    ),
    tenantClaims: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'Marks this issuer as multi-tenant: every rule must pin one of these claims (or another tenant claim).',
      }),
    ),
  },
  strict,
);

export const AssumeRoleSchema = Type.Object(
  {
    roleArn: Str('Role to assume in the second hop.'),
    externalId: Type.Optional(Str('ExternalId for the second hop (defaults to the provider’s).')),
    tags: Type.Optional(StrMap('Session tags, merged over the provider’s `tags`.')),
  },
  {
    ...strict,
    description:
      'aws-sts: a second `AssumeRole` hop (role chaining, ≤ 3600 s). Its `SourceIdentity` is `<sanitised sub>-<first 8 hex of sha256(iss|sub)>` (≤ 64 chars), unique per identity.',
  },
);

export const OutputValueSchema = Type.Union(
  [
    Type.String({ minLength: 1, description: 'a provider field name, or (compat) a literal' }),
    Type.Object({ value: Type.String({ description: 'literal value' }) }, strict),
  ],
  { description: 'A provider field name, or `{ value: literal }`.' },
);

export const KeySchema = Type.Object(
  {
    provider: Str('Name of an access provider.'),
    description: Type.Optional(Type.String({ description: 'Shown in `/credentials/keys`.' })),
    duration: Type.Optional(
      Int('Default and maximum lifetime for this key, seconds (not for azure).', undefined, 1),
    ),
    roleArn: Type.Optional(Str('aws-sts (required), minio: role to assume.')),
    roleSessionName: Type.Optional(
      Str(
        'aws-sts: session name; default `voidkey-<sanitised sub>-<first 8 hex of sha256(iss|sub)>` (≤ 64 chars).',
      ),
    ),
    policy: Type.Optional(Str('aws-sts, minio: inline session policy (JSON).')),
    policyArns: Type.Optional(StrList('aws-sts: managed policy ARNs (≤ 10).')),
    assumeRole: Type.Optional(AssumeRoleSchema),
    serviceAccount: Type.Optional(Str('gcp (required): service account email to impersonate.')),
    scopes: Type.Optional(StrList('gcp: OAuth scopes of the access token.')),
    delegates: Type.Optional(StrList('gcp: delegation chain (service account emails).')),
    scope: Type.Optional(Str('azure (required): one resource scope ending `/.default`.')),
    outputs: Type.Optional(
      Type.Record(Type.String(), OutputValueSchema, {
        description: 'ENV_VAR: provider field | { value: literal }. Default per provider type.',
      }),
    ),
  },
  strict,
);

const KeyMap = (description: string, def?: object) =>
  Type.Record(Type.String({ pattern: KEY_NAME_PATTERN }), KeySchema, {
    description,
    ...(def === undefined ? {} : { default: def }),
  });

export const ClientIdentitySchema = Type.Object(
  {
    name: Type.Optional(
      Str('Unique name (required with `match`); used by explain, audit, tests and includes.'),
    ),
    subject: Type.Optional(Str('Exact `sub` claim (today’s form; mutually exclusive with `match`).')),
    idp: Str('Name of the client IdP this identity belongs to.'),
    match: Type.Optional(MatchSchema),
    grants: Type.Optional(
      Type.Array(Type.String({ pattern: KEY_NAME_PATTERN }), {
        minItems: 1,
        description: 'Names of catalog keys (top-level `keys`) this identity may mint.',
      }),
    ),
    keys: KeyMap('Named keys this identity may mint (inline recipes).', {}),
  },
  strict,
);

export const DenyRuleSchema = Type.Object(
  {
    name: Str('Unique name; shown in explanations and audit.'),
    idp: Type.Union([Str('one IdP'), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
      description: 'IdP name(s) this rule applies to.',
    }),
    match: MatchSchema,
    keys: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'Key names this rule removes, or `"*"` for every key.',
    }),
    message: Type.Optional(Type.String({ description: 'Shown with the rule in explanations.' })),
    onMissingClaim: Literals(
      ['deny', 'skip'] as const,
      'A condition on a missing or unusable claim: `deny` counts it as matched (fail closed); `skip` makes only that condition false.',
      'deny',
    ),
  },
  strict,
);

export const AccessProviderSchema = Type.Object(
  {
    name: Str('Name used by keys’ `provider`.'),
    type: Str(`Provider type: ${PROVIDER_TYPES.join(' | ')}.`),
    audience: Type.Optional(Str('Broker-token audience for this provider (§5); defaults per type.')),
    maxDuration: Type.Optional(Int('Cap for every key of this provider, seconds.', undefined, 1)),
    region: Type.Optional(Str('aws-sts, minio: region.')),
    endpoint: Type.Optional(
      Str('aws-sts: STS endpoint override; minio: STS endpoint (required); gcp: IAM Credentials endpoint.'),
    ),
    externalId: Type.Optional(Str('aws-sts: default ExternalId for keys’ `assumeRole` hop.')),
    tags: Type.Optional(StrMap('aws-sts: session tags for keys’ `assumeRole` hop.')),
    projectId: Type.Optional(Str('gcp: informational project id.')),
    workloadIdentityProvider: Type.Optional(
      Str('gcp (required): `//iam.googleapis.com/projects/…/providers/…`.'),
    ),
    stsEndpoint: Type.Optional(Str('gcp: Google STS endpoint override.')),
    tenantId: Type.Optional(Str('azure (required): tenant id.')),
    clientId: Type.Optional(
      Str('azure (required): application (client) id holding the federated credential.'),
    ),
    environment: Type.Optional(
      Literals(['AzurePublicCloud', 'AzureUSGovernment', 'AzureChina'] as const, 'azure: cloud environment.'),
    ),
    authorityHost: Type.Optional(Str('azure: authority host URL override.')),
  },
  strict,
);

export const RateLimitSchema = Type.Object(
  {
    enabled: Bool('Per-client-IP rate limiting.', true),
    windowMs: Int('Window, ms.', 900000, 1),
    max: Int('Requests per IP per window.', 1000, 1),
    message: Type.String({
      description: 'The 429 body’s message.',
      default: 'Too many requests from this IP',
    }),
    legacyHeaders: Bool('Send `X-RateLimit-Limit/-Remaining/-Reset`.', true),
    standardHeaders: Bool('Send IETF `RateLimit-Limit/-Remaining/-Reset`.', false),
    perSubject: Type.Optional(
      Type.Object(
        {
          windowMs: Int('Window, ms.', 60000, 1),
          max: Int('Verified mints per (iss, sub) per window.', 60, 1),
        },
        { ...strict, description: 'Second limit keyed by verified (iss, sub); off unless set.' },
      ),
    ),
  },
  { ...strict, description: 'Rate limits; `/health*` and `/metrics` are exempt.', default: {} },
);

export const AuditSchema = Type.Object(
  {
    enabled: Bool('Emit audit events.', true),
    file: Type.Optional(
      Str(
        'Append-only audit file (JSON lines), besides the log stream (relative to the config file that sets it).',
      ),
    ),
    maxSize: Type.Union(
      [
        Type.String({
          pattern: '^[0-9]+(\\.[0-9]+)?\\s*([KMG]i?B|B)?$',
          errorMessage:
            'must be a size like 100MB (units B, KB, MB, GB, KiB, MiB, GiB; all binary) or a byte count',
        }),
        Type.Integer({ minimum: 1 }),
      ],
      {
        description: 'Rotate the audit file at this size (`100MB` = 100 MiB; or bytes).',
        default: '100MB',
      },
    ),
    maxFiles: Int('Rotated audit files kept.', 10, 1),
    failClosed: Bool(
      'With a file: `serve` refuses to start when the file cannot be opened for append, and a mint whose audit record cannot be written fails with 503 (checked before any provider call).',
      true,
    ),
  },
  { ...strict, description: 'Audit events.', default: {} },
);

export const LoggingSchema = Type.Object(
  {
    level: Literals(
      ['debug', 'info', 'warn', 'error'] as const,
      'Log level of the application lines; audit events are written whatever it is.',
      'info',
    ),
    format: Literals(['json', 'pretty'] as const, 'Log format.', 'json'),
    redact: Type.Array(Type.String({ minLength: 1 }), {
      description: 'Extra pino redact paths, added to the built-in ones.',
      default: [],
    }),
    audit: AuditSchema,
  },
  { ...strict, description: 'Logging.', default: {} },
);

export const BrokerSchema = Type.Object(
  {
    httpTimeout: Int('Timeout of one outbound call, ms.', 5000, 1),
    maxRetries: Int('Retries of idempotent or throttled outbound calls.', 2, 0, 10),
    retryDelay: Int('Base delay between retries (jittered, doubled each time), ms.', 200, 0),
  },
  { ...strict, description: 'Outbound calls; all inside `server.requestTimeout`.', default: {} },
);

export const CacheSchema = Type.Object(
  {
    jwks: Type.Object(
      {
        ttl: Int('Key-set freshness, seconds.', 600, 1),
        staleIfError: Int(
          'Keep using the last good key set this long when the JWKS endpoint fails, seconds.',
          86400,
          0,
        ),
        cooldown: Int('Least time between refetches of one issuer (unknown kid, failures), seconds.', 30, 0),
        maxSize: Int('Most issuers whose key sets are cached.', 100, 1),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, description: 'Caches.', default: {} },
);

const HostPorts = (description: string) =>
  Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description });

export const RedisTlsSchema = Type.Union(
  [
    Type.Boolean(),
    Type.Object(
      {
        ca: Type.Optional(
          Str('PEM CA bundle that signs the server certificate (relative to the config file that sets it).'),
        ),
        cert: Type.Optional(
          Str('PEM client certificate, for `tls-auth-clients` (relative to the config file that sets it).'),
        ),
        key: Type.Optional(Str('PEM private key of `cert` (relative to the config file that sets it).')),
        servername: Type.Optional(
          Str('Name the server certificate must carry (default: the host connected to).'),
        ),
      },
      strict,
    ),
  ],
  {
    description:
      '`true` (system CAs), or files for a private CA and a client certificate. Also implied by `rediss://`.',
    default: false,
  },
);

export const RedisSchema = Type.Object(
  {
    url: Type.Optional(
      Str(
        'Standalone server: `redis://[user:password@]host:port/db`, or `rediss://` for TLS. Exactly one of `url`, `sentinels`, `cluster`.',
      ),
    ),
    sentinels: Type.Optional(
      HostPorts('Sentinel: `host:port` of the Sentinels that monitor the primary named `name`.'),
    ),
    name: Type.Optional(Str("The primary's name as the Sentinels know it (required with `sentinels`).")),
    sentinelPassword: Type.Optional(Str('Password of the Sentinels themselves, when they require one.')),
    cluster: Type.Optional(
      HostPorts('Redis Cluster: `host:port` of some nodes (seeds); the rest is discovered.'),
    ),
    username: Type.Optional(Str('ACL user (else from the URL; else `default`).')),
    password: Type.Optional(
      Str('Password (else from the URL). For every node of a Sentinel or Cluster setup.'),
    ),
    keyPrefix: Type.String({ description: 'Prefix of every key.', default: 'voidkey:' }),
    tls: RedisTlsSchema,
  },
  {
    ...strict,
    description: 'Shared state for many instances (rate limits, one-time tokens): one of three topologies.',
  },
);

export const ConfigSchema = Type.Object(
  {
    includes: Type.Optional(StrList('Files merged under this one, relative to it, first to last.')),
    server: ServerSchema,
    brokerIdp: BrokerIdpSchema,
    clientIdps: Type.Array(ClientIdpSchema, {
      description: 'Issuers whose tokens clients may present.',
      default: [],
    }),
    accessProviders: Type.Array(AccessProviderSchema, {
      description: 'Where credentials are minted.',
      default: [],
    }),
    keys: Type.Optional(
      KeyMap('Key catalog: one name, one recipe; identities grant them by name (`grants`).'),
    ),
    clientIdentities: Type.Array(ClientIdentitySchema, {
      description: 'Which identity (exact subject, or claim rules) of which IdP may mint which keys.',
      default: [],
    }),
    denyRules: Type.Array(DenyRuleSchema, {
      description: 'Rules that remove keys from matching tokens; no grant overrides them.',
      default: [],
    }),
    rateLimit: RateLimitSchema,
    logging: LoggingSchema,
    broker: BrokerSchema,
    cache: CacheSchema,
    redis: Type.Optional(RedisSchema),
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type ServerConfig = Static<typeof ServerSchema>;
export type BrokerIdpConfig = Static<typeof BrokerIdpSchema> & {
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  audienceParam: 'audience' | 'resource' | 'scope';
};
export type ClientIdpConfig = Static<typeof ClientIdpSchema> & { algorithms?: AllowedAlgorithm[] };
export type AccessProviderConfig = Static<typeof AccessProviderSchema> & {
  environment?: 'AzurePublicCloud' | 'AzureUSGovernment' | 'AzureChina';
};
export type KeyConfig = Static<typeof KeySchema>;
export type ClientIdentityConfig = Static<typeof ClientIdentitySchema>;
export type DenyRuleConfig = Static<typeof DenyRuleSchema> & { onMissingClaim: 'deny' | 'skip' };
/** A claim condition as written in the config. */
export type ConditionConfig =
  | string
  | number
  | boolean
  | Array<string | number | boolean>
  | Record<string, unknown>;
export type RateLimitConfig = Static<typeof RateLimitSchema>;
export type LoggingConfig = Static<typeof LoggingSchema> & {
  level: 'debug' | 'info' | 'warn' | 'error';
  format: 'json' | 'pretty';
};
