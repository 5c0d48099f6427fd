import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { baseConfig, cleanup, loadObject } from './helpers.ts';

after(cleanup);

// biome-ignore lint/suspicious/noExplicitAny: cases reshape the config freely
type Data = Record<string, any>;

interface Case {
  name: string;
  change: (d: Data) => void;
  problems: string[];
  warnings?: string[];
}

const KEY = 'clientIdentities[0].keys.AWS_DEPLOY';
const key = (d: Data) => d.clientIdentities[0].keys.AWS_DEPLOY;
const addProvider = (d: Data, p: Data) => d.accessProviders.push(p);
const GCP = {
  name: 'gcp-prod',
  type: 'gcp',
  workloadIdentityProvider:
    '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/voidkey/providers/broker',
};
const AZURE = { name: 'azure-prod', type: 'azure', tenantId: 't', clientId: 'c' };
const MINIO = { name: 'minio-local', type: 'minio', endpoint: 'https://minio.example.com' };
const useKey = (d: Data, provider: string, extra: Data = {}) => {
  d.clientIdentities[0].keys.K = { provider, ...extra };
};
const K = 'clientIdentities[0].keys.K';

const PROVIDER_CASES: Case[] = [
  {
    name: 'an unknown provider type, listing the known ones',
    change: (d) => addProvider(d, { name: 'm', type: 'minoi' }),
    problems: [
      'accessProviders[1].type: unknown provider type "minoi"; did you mean `minio`? (known types: aws-sts, minio, gcp, azure)',
    ],
  },
  {
    name: 'minio without endpoint',
    change: (d) => addProvider(d, { name: 'm', type: 'minio', audience: 'minio-aud' }),
    problems: ['accessProviders[1].endpoint: required for a minio provider'],
  },
  {
    name: 'gcp without workloadIdentityProvider',
    change: (d) => addProvider(d, { name: 'g', type: 'gcp' }),
    problems: ['accessProviders[1].workloadIdentityProvider: required for a gcp provider'],
  },
  {
    name: 'azure without tenantId and clientId',
    change: (d) => addProvider(d, { name: 'a', type: 'azure' }),
    problems: [
      'accessProviders[1].tenantId: required for an azure provider',
      'accessProviders[1].clientId: required for an azure provider',
    ],
  },
  {
    name: 'fields of other provider types',
    change: (d) => {
      Object.assign(d.accessProviders[0], { tenantId: 't', projectId: 'p' });
      addProvider(d, { ...GCP, externalId: 'x', region: 'r' });
      addProvider(d, { ...MINIO, tags: { a: 'b' }, audience: 'minio-aud' });
      addProvider(d, { ...AZURE, maxDuration: 3600, endpoint: 'https://x.example.com' });
    },
    problems: [
      'accessProviders[0].projectId: not allowed on an aws-sts provider (only gcp)',
      'accessProviders[0].tenantId: not allowed on an aws-sts provider (only azure)',
      'accessProviders[1].region: not allowed on a gcp provider (only aws-sts, minio)',
      'accessProviders[1].externalId: not allowed on a gcp provider (only aws-sts)',
      'accessProviders[2].tags: not allowed on a minio provider (only aws-sts)',
      'accessProviders[3].endpoint: not allowed on an azure provider (only aws-sts, minio, gcp)',
      'accessProviders[3].maxDuration: not allowed on an azure provider: Entra chooses the lifetime',
    ],
  },
  {
    name: 'duplicate provider names',
    change: (d) => addProvider(d, { name: 'aws-prod', type: 'aws-sts' }),
    problems: ['accessProviders[1].name: duplicate name: also used by accessProviders[0]'],
  },
  {
    name: 'http:// endpoints without allowInsecureIssuers, and non-URLs',
    change: (d) => {
      d.accessProviders[0].endpoint = 'http://localhost:4566';
      addProvider(d, { ...GCP, stsEndpoint: 'not a url', endpoint: 'ftp://x.example.com' });
      addProvider(d, { ...AZURE, authorityHost: 'login.microsoftonline.com' });
    },
    problems: [
      'accessProviders[0].endpoint: http:// is refused unless server.allowInsecureIssuers is true (development only)',
      'accessProviders[1].endpoint: must be an https:// URL',
      'accessProviders[1].stsEndpoint: must be an absolute https:// URL',
      'accessProviders[2].authorityHost: must be an absolute https:// URL',
    ],
  },
  {
    name: 'aws-sts without any broker-token audience',
    change: (d) => delete d.brokerIdp.audience,
    problems: [
      'accessProviders[0].audience: no broker-token audience: set audience here or brokerIdp.audience',
    ],
  },
  {
    name: 'provider maxDuration outside the type range',
    change: (d) => {
      d.accessProviders[0].maxDuration = 600;
      addProvider(d, { ...GCP, maxDuration: 50000 });
    },
    problems: [
      'accessProviders[0].maxDuration: must be between 900 and 43200 seconds for aws-sts',
      'accessProviders[1].maxDuration: must be between 1 and 43200 seconds for gcp',
    ],
  },
  {
    name: 'too many or too long session tags',
    change: (d) => {
      d.accessProviders[0].tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
      d.accessProviders[0].tags.t0 = 'v'.repeat(257);
      d.accessProviders[0].tags['k'.repeat(129)] = 'v';
      key(d).assumeRole = { roleArn: 'arn:aws:iam::210987654321:role/Target' };
    },
    problems: [
      'accessProviders[0].tags: at most 50 session tags; there are 52',
      'accessProviders[0].tags.t0: tag value longer than 256 characters',
      `accessProviders[0].tags.${'k'.repeat(129)}: tag key longer than 128 characters`,
      `${KEY}.assumeRole.tags: at most 50 session tags (with the provider's tags); there are 52`,
    ],
  },
];

const KEY_CASES: Case[] = [
  {
    name: 'a key of an aws-sts provider without roleArn',
    change: (d) => delete key(d).roleArn,
    problems: [`${KEY}.roleArn: required for a key of an aws-sts provider`],
  },
  {
    name: 'a gcp key without serviceAccount and with aws-only fields',
    change: (d) => {
      addProvider(d, GCP);
      useKey(d, 'gcp-prod', {
        roleArn: 'arn:aws:iam::1:role/x',
        policy: '{}',
        assumeRole: { roleArn: 'arn:x' },
      });
    },
    problems: [
      `${K}.serviceAccount: required for a key of a gcp provider`,
      `${K}.roleArn: not allowed on a key of a gcp provider (only aws-sts, minio)`,
      `${K}.policy: not allowed on a key of a gcp provider (only aws-sts, minio)`,
      `${K}.assumeRole: not allowed on a key of a gcp provider (only aws-sts)`,
    ],
  },
  {
    name: 'an azure key: scope required, ending /.default, and no duration',
    change: (d) => {
      addProvider(d, AZURE);
      useKey(d, 'azure-prod', { duration: 3600 });
      d.clientIdentities[0].keys.K2 = { provider: 'azure-prod', scope: 'https://management.azure.com' };
    },
    problems: [
      `${K}.scope: required for a key of an azure provider`,
      `${K}.duration: not allowed on a key of an azure provider: Entra chooses the lifetime`,
      'clientIdentities[0].keys.K2.scope: must be one resource scope ending in /.default',
    ],
  },
  {
    name: 'aws-only and gcp-only key fields on a minio key',
    change: (d) => {
      addProvider(d, { ...MINIO, audience: 'minio-aud' });
      useKey(d, 'minio-local', {
        roleSessionName: 'x1',
        policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
        serviceAccount: 'a@b',
        scopes: ['s'],
        delegates: ['d@e'],
      });
    },
    problems: [
      `${K}.roleSessionName: not allowed on a key of a minio provider (only aws-sts)`,
      `${K}.policyArns: not allowed on a key of a minio provider (only aws-sts)`,
      `${K}.serviceAccount: not allowed on a key of a minio provider (only gcp)`,
      `${K}.scopes: not allowed on a key of a minio provider (only gcp)`,
      `${K}.delegates: not allowed on a key of a minio provider (only gcp)`,
    ],
  },
  {
    name: 'a key naming an unknown provider',
    change: (d) => {
      key(d).provider = 'aws-prd';
    },
    problems: [
      `${KEY}.provider: unknown provider "aws-prd"; did you mean \`aws-prod\`? (configured: aws-prod)`,
    ],
  },
  {
    name: 'key durations out of range, above the provider cap, or above the chained maximum',
    change: (d) => {
      d.accessProviders[0].maxDuration = 1800;
      key(d).duration = 600;
      d.clientIdentities[0].keys.B = { ...key(d), duration: 3600 };
      d.clientIdentities[0].keys.C = {
        ...key(d),
        duration: 7200,
        assumeRole: { roleArn: 'arn:aws:iam::210987654321:role/T' },
      };
      addProvider(d, GCP);
      d.clientIdentities[0].keys.D = { provider: 'gcp-prod', serviceAccount: 'a@b.c', duration: 43201 };
    },
    problems: [
      `${KEY}.duration: must be between 900 and 43200 seconds for aws-sts`,
      "clientIdentities[0].keys.B.duration: exceeds the provider's maxDuration (1800 seconds)",
      'clientIdentities[0].keys.C.duration: must be ≤ 3600 seconds with assumeRole (AWS caps chained sessions)',
      'clientIdentities[0].keys.D.duration: must be between 1 and 43200 seconds for gcp',
    ],
  },
  {
    name: 'policy: valid JSON object, at most 2048 characters packed',
    change: (d) => {
      key(d).policy = '{"Version": ';
      const big = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x'.repeat(2100) }] };
      d.clientIdentities[0].keys.B = { ...key(d), policy: JSON.stringify(big) };
      d.clientIdentities[0].keys.C = { ...key(d), policy: '"just a string"' };
    },
    problems: [
      `${KEY}.policy: must be valid JSON (a policy document)`,
      'clientIdentities[0].keys.B.policy: is 2169 characters packed; AWS allows at most 2048',
      'clientIdentities[0].keys.C.policy: must be a JSON object (a policy document)',
    ],
  },
  {
    name: 'more than 10 policyArns, ARNs that are not ARNs, invalid session names',
    change: (d) => {
      key(d).policyArns = Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`);
      key(d).roleArn = 'Deploy';
      key(d).roleSessionName = 'has space';
    },
    problems: [
      `${KEY}.roleArn: must be an ARN (arn:…)`,
      `${KEY}.roleSessionName: must be 2–64 characters of letters, digits and +=,.@_-`,
      `${KEY}.policyArns: at most 10 managed policy ARNs; there are 11`,
    ],
  },
  {
    name: 'output variable names and key names',
    change: (d) => {
      key(d).outputs = { '1BAD': 'AccessKeyId', 'WITH-DASH': { value: 'x' } };
      d.clientIdentities[0].keys['bad key'] = { ...key(d), outputs: undefined };
    },
    problems: [
      `${KEY}.outputs.1BAD: variable name must match ^[A-Za-z_][A-Za-z0-9_]*$`,
      `${KEY}.outputs.WITH-DASH: variable name must match ^[A-Za-z_][A-Za-z0-9_]*$`,
      'clientIdentities[0].keys["bad key"]: key name must be 1–64 letters, digits, _ or -',
    ],
  },
  {
    name: 'a gcp serviceAccount that is not an email',
    change: (d) => {
      addProvider(d, GCP);
      useKey(d, 'gcp-prod', { serviceAccount: 'deploy' });
    },
    problems: [`${K}.serviceAccount: must be a service account email`],
  },
];

const IDENTITY_CASES: Case[] = [
  {
    name: 'an identity naming an unknown idp',
    change: (d) => {
      d.clientIdentities[0].idp = 'gitlab';
    },
    problems: ['clientIdentities[0].idp: unknown idp "gitlab" (configured: github-actions)'],
  },
  {
    name: 'duplicate (idp, subject)',
    change: (d) => d.clientIdentities.push({ ...d.clientIdentities[0], keys: {} }),
    problems: [
      'clientIdentities[1].subject: duplicate identity: same idp and subject as clientIdentities[0]',
    ],
  },
  {
    name: 'duplicate clientIdp names and issuers',
    change: (d) => {
      d.clientIdps.push({ ...d.clientIdps[0] });
      d.clientIdps.push({ ...d.clientIdps[0], name: 'other' });
    },
    problems: [
      'clientIdps[1].name: duplicate name: also used by clientIdps[0]',
      'clientIdps[1].issuer: same issuer as clientIdps[0]: configure each issuer once',
      'clientIdps[2].issuer: same issuer as clientIdps[0]: configure each issuer once',
    ],
  },
  {
    name: 'a clientIdp without audience',
    change: (d) => delete d.clientIdps[0].audience,
    problems: [
      'clientIdps[0].audience: required: the audience(s) a token must carry (only `allowAnyAudience: true` may omit it)',
    ],
  },
  {
    name: 'http:// and malformed issuers, jwksUri and tokenEndpoint',
    change: (d) => {
      d.brokerIdp.issuer = 'http://auth.example.com';
      d.brokerIdp.tokenEndpoint = 'http://auth.example.com/token';
      d.clientIdps[0].issuer = 'https://issuer.example.com/?tenant=1';
      d.clientIdps[0].jwksUri = 'jwks.json';
    },
    problems: [
      'brokerIdp.issuer: http:// is refused unless server.allowInsecureIssuers is true (development only)',
      'brokerIdp.tokenEndpoint: http:// is refused unless server.allowInsecureIssuers is true (development only)',
      'clientIdps[0].issuer: an issuer must not have a query or fragment',
      'clientIdps[0].jwksUri: must be an absolute https:// URL',
    ],
  },
  {
    name: 'client authentication without its secret',
    change: (d) => {
      d.brokerIdp.clientAuth = 'client_secret_post';
      delete d.brokerIdp.clientSecret;
    },
    problems: ['brokerIdp.clientSecret: required when clientAuth is client_secret_post'],
  },
  {
    name: 'private_key_jwt without privateKeyFile',
    change: (d) => {
      d.brokerIdp.clientAuth = 'private_key_jwt';
    },
    problems: ['brokerIdp.privateKeyFile: required when clientAuth is private_key_jwt'],
  },
  {
    name: 'CORS "*" and non-origins; trustProxy entries that are not addresses; a non-redis URL',
    change: (d) => {
      d.server = {
        cors: { origins: ['*', 'https://app.example.com/path'] },
        trustProxy: ['10.0.0.0/8', '10.0.0.0/33'],
      };
      d.redis = { url: 'http://redis.example.com' };
    },
    problems: [
      'server.trustProxy[1]: must be an IP address or CIDR (e.g. 10.0.0.0/8)',
      'server.cors.origins[0]: "*" is refused: list each exact origin',
      'server.cors.origins[1]: must be an exact origin: scheme, host and optional port, no path (https://app.example.com)',
      'redis.url: must be a redis:// or rediss:// URL',
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: 0.0.0.0/0',
    change: (d) => {
      d.server = { trustProxy: ['0.0.0.0/0'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: ::/0',
    change: (d) => {
      d.server = { trustProxy: ['10.0.0.0/8', '::/0'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: complementary IPv4 halves',
    change: (d) => {
      d.server = { trustProxy: ['0.0.0.0/1', '128.0.0.0/1'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: IPv4 covered by quarters and a host',
    change: (d) => {
      d.server = { trustProxy: ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/1', '10.1.2.3'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: complementary IPv6 halves',
    change: (d) => {
      d.server = { trustProxy: ['::/1', '8000::/1'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy list that trusts every address: every IPv4 client through IPv4-mapped IPv6',
    change: (d) => {
      d.server = { trustProxy: ['::ffff:0:0/96'] };
    },
    problems: [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ],
  },
  {
    name: 'a trustProxy hop count above the maximum',
    change: (d) => {
      d.server = { trustProxy: 11 };
    },
    problems: ['server.trustProxy: must be ≤ 10'],
  },
];

const REDIS_CASES: Case[] = [
  {
    name: 'a redis block without a topology',
    change: (d) => {
      d.redis = { keyPrefix: 'v:' };
    },
    problems: ['redis: set one of `url` (standalone), `sentinels` (with `name`) or `cluster`'],
  },
  {
    name: 'two topologies at once',
    change: (d) => {
      d.redis = { url: 'redis://r:6379', cluster: ['r:7000'] };
    },
    problems: ['redis.cluster: set only one of `url`, `cluster`'],
  },
  {
    name: 'sentinels without the primary name, and addresses that are not host:port',
    change: (d) => {
      d.redis = { sentinels: ['s1:26379', 's2', '[::1]:26379', 's3:99999'] };
    },
    problems: [
      'redis.sentinels[1]: must be host:port (e.g. 10.0.0.1:26379, [::1]:6379)',
      'redis.sentinels[3]: must be host:port (e.g. 10.0.0.1:26379, [::1]:6379)',
      "redis.name: required with `sentinels`: the primary's name as the Sentinels know it",
    ],
  },
  {
    name: 'Sentinel fields on a cluster, a cluster seed with a scheme, and a client cert without its key',
    change: (d) => {
      d.redis = {
        cluster: ['redis://n1:7000'],
        name: 'mymaster',
        sentinelPassword: 'x',
        tls: { cert: 'client.crt' },
      };
    },
    problems: [
      'redis.cluster[0]: must be host:port (e.g. 10.0.0.1:26379, [::1]:6379)',
      'redis.name: only with `sentinels`',
      'redis.sentinelPassword: only with `sentinels`',
      'redis.tls.key: set `cert` and `key` together',
    ],
  },
];

describe('trustProxy lists that stop short of everyone', () => {
  test('half of the space, private ranges and names are accepted', async () => {
    for (const trustProxy of [['0.0.0.0/1'], ['10.0.0.0/8', '172.16.0.0/12', 'fd00::/8'], ['loopback'], 10]) {
      const data = baseConfig();
      data.server = { trustProxy };
      assert.deepEqual((await loadObject(data)).problems, [], JSON.stringify(trustProxy));
    }
  });
});

function runCases(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      test(`rejects ${c.name}`, async () => {
        const data = baseConfig();
        c.change(data);
        const out = await loadObject(data);
        assert.deepEqual(out.problems, c.problems);
        if (c.warnings) assert.deepEqual(out.warnings, c.warnings);
      });
    }
  });
}

runCases('cross-checks of providers', PROVIDER_CASES);
runCases('cross-checks of keys', KEY_CASES);
runCases('cross-checks of identities, IdPs and server', IDENTITY_CASES);
runCases('cross-checks of redis', REDIS_CASES);

describe('redis topologies that validate', () => {
  const valid: Data[] = [
    { url: 'rediss://voidkey:pw@cache.internal:6380/2', tls: { ca: 'ca.pem' } },
    { sentinels: ['10.0.0.1:26379', '[fd00::2]:26379'], name: 'mymaster', sentinelPassword: 's' },
    { cluster: ['n1:7000', 'n2:7000'], username: 'voidkey', password: 'p', tls: true },
  ];
  for (const redis of valid) {
    test(`accepts ${Object.keys(redis).join(', ')}`, async () => {
      const data = baseConfig();
      data.redis = redis;
      const out = await loadObject(data);
      assert.deepEqual(out.problems, []);
      assert.equal(out.config?.redis?.keyPrefix, 'voidkey:');
    });
  }

  test('resolves the TLS files against the config file', async () => {
    const data = baseConfig();
    data.redis = { url: 'rediss://r:6380', tls: { ca: 'ca.pem', cert: '/abs/c.pem', key: 'k.pem' } };
    const out = await loadObject(data);
    const tls = out.config?.redis?.tls;
    assert.ok(typeof tls === 'object' && tls.ca?.startsWith('/') && tls.ca.endsWith('/ca.pem'), String(tls));
    assert.equal(typeof tls === 'object' && tls.cert, '/abs/c.pem');
  });
});
