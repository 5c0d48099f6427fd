/** A fake broker with one identity and awkward credential values, shared by the CLI tests. */
import { FakeBroker, type FakeKey } from './fake-broker.ts';
import { makeToken } from './helpers.ts';

export const SUBJECT = 'repo:acme/app:ref:refs/heads/main';

/** Values a shell, YAML or a CI log would mangle if quoted carelessly. */
export const AWKWARD = {
  quotes: `it's "quoted" ''`,
  dollar: '$HOME ${PATH} $(id) `id` \\n \\',
  newline: 'line one\nline two\n\nline four\n',
  unicode: 'ünïcödé ✓ \u2028 \u0085 \u00a0 \u{1F511}',
  control: 'tab\there\rcr \u001b[31mred\u001b[0m \u007f',
  yamlish: 'true',
  percent: '100% %0A %25',
} as const;

export const AWS_KEY: FakeKey = {
  name: 'AWS_DEPLOY',
  provider: 'aws-prod',
  description: 'Deploy to production',
  maxDuration: 900,
  outputs: {
    AWS_ACCESS_KEY_ID: 'ASIAEXAMPLEACCESSKEY',
    AWS_SECRET_ACCESS_KEY: 'secret/with+chars=and\'quote"',
    AWS_SESSION_TOKEN: 'session-token-value-0123456789',
    AWS_REGION: 'us-east-1',
  },
};

export const AWKWARD_KEY: FakeKey = {
  name: 'AWKWARD',
  provider: 'minio-local',
  maxDuration: 5400,
  outputs: {
    QUOTES: AWKWARD.quotes,
    DOLLAR: AWKWARD.dollar,
    NEWLINE: AWKWARD.newline,
    UNICODE: AWKWARD.unicode,
    CONTROL: AWKWARD.control,
    YAMLISH: AWKWARD.yamlish,
    PERCENT: AWKWARD.percent,
  },
};

export const PLAIN_KEY: FakeKey = {
  name: 'GCP_READ',
  provider: 'gcp-prod',
  description: 'Read-only \u001b[2Jaccess',
  maxDuration: 90,
  outputs: { GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.plain-value', GOOGLE_TOKEN_EXPIRY: '2030-01-01T00:00:00Z' },
};

/** Starts a broker trusting one fresh token for SUBJECT, granted `keys`. */
export async function startBroker(keys: FakeKey[] = [AWS_KEY, AWKWARD_KEY, PLAIN_KEY]) {
  const broker = await new FakeBroker().start();
  const token = makeToken({ sub: SUBJECT });
  broker.trusted.add(token);
  broker.identities.set(SUBJECT, { idp: 'github-actions', keys });
  return { broker, token };
}
