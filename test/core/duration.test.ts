import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyConfig } from '../../src/core/config/schema.ts';
import { maximumDuration, resolveDuration } from '../../src/core/duration.ts';
import { InvalidRequestError } from '../../src/core/errors.ts';
import { providerDurations } from '../../src/core/providers-meta.ts';
import type { AccessProvider } from '../../src/core/types.ts';

const aws: Pick<AccessProvider, 'type' | 'durations'> = {
  type: 'aws-sts',
  durations: providerDurations('aws-sts'),
};
const gcp: Pick<AccessProvider, 'type' | 'durations'> = { type: 'gcp', durations: providerDurations('gcp') };
const azure: Pick<AccessProvider, 'type' | 'durations'> = { type: 'azure', durations: undefined };

type Case = {
  name: string;
  provider: Pick<AccessProvider, 'type' | 'durations'>;
  key?: Partial<KeyConfig>;
  providerMaxDuration?: number;
  requested?: number;
  expected?: number | undefined;
  maximum: number | null;
  refused?: RegExp;
};

const cases: Case[] = [
  {
    name: 'uses the provider default when neither request nor key says',
    provider: aws,
    expected: 3600,
    maximum: 43200,
  },
  {
    name: 'uses the key duration when the request does not say',
    provider: aws,
    key: { duration: 1800 },
    expected: 1800,
    maximum: 1800,
  },
  {
    name: 'uses the requested duration within the maximum',
    provider: aws,
    key: { duration: 1800 },
    requested: 1000,
    expected: 1000,
    maximum: 1800,
  },
  {
    name: 'accepts a request exactly at the maximum',
    provider: aws,
    key: { duration: 1800 },
    requested: 1800,
    expected: 1800,
    maximum: 1800,
  },
  {
    name: 'refuses a request above the key duration',
    provider: aws,
    key: { duration: 1800 },
    requested: 1801,
    maximum: 1800,
    refused: /1801 s exceeds the maximum of 1800 s for key K/,
  },
  {
    name: 'refuses a request above the provider maxDuration',
    provider: aws,
    providerMaxDuration: 7200,
    requested: 7201,
    maximum: 7200,
    refused: /maximum of 7200 s/,
  },
  {
    name: 'refuses a request above the cloud ceiling',
    provider: aws,
    requested: 43201,
    maximum: 43200,
    refused: /maximum of 43200 s/,
  },
  {
    name: 'takes the smallest of key duration and provider maxDuration',
    provider: aws,
    key: { duration: 5000 },
    providerMaxDuration: 2000,
    maximum: 2000,
    expected: 2000,
  },
  {
    name: 'lowers a configured default above the maximum instead of failing',
    provider: aws,
    providerMaxDuration: 1200,
    expected: 1200,
    maximum: 1200,
  },
  {
    name: 'raises a request below the provider minimum to it',
    provider: aws,
    requested: 60,
    expected: 900,
    maximum: 43200,
  },
  {
    name: 'raises a key duration below the provider minimum to it',
    provider: aws,
    key: { duration: 300 },
    expected: 900,
    maximum: 300,
  },
  {
    name: 'caps chained aws sessions (assumeRole) at 3600 s',
    provider: aws,
    key: { assumeRole: { roleArn: 'arn:x' } },
    requested: 3601,
    maximum: 3600,
    refused: /maximum of 3600 s/,
  },
  {
    name: 'caps a chained session by a provider maxDuration below 3600 s',
    provider: aws,
    key: { assumeRole: { roleArn: 'arn:x' } },
    providerMaxDuration: 1200,
    requested: 1201,
    maximum: 1200,
    refused: /maximum of 1200 s/,
  },
  {
    name: 'allows short gcp lifetimes (minimum 1 s)',
    provider: gcp,
    requested: 60,
    expected: 60,
    maximum: 43200,
  },
  {
    name: 'leaves the lifetime to a provider without rules (azure)',
    provider: azure,
    expected: undefined,
    maximum: null,
  },
  {
    name: 'refuses a duration for a provider without rules (azure)',
    provider: azure,
    requested: 900,
    maximum: null,
    refused: /AZ does not accept a duration/,
  },
];

describe('durations', () => {
  for (const c of cases) {
    test(c.name, () => {
      const keyName = c.provider === azure ? 'AZ' : 'K';
      // A provider's maxDuration reaches the rules through its durations, as createProviders builds them.
      const durations =
        c.providerMaxDuration === undefined
          ? c.provider.durations
          : providerDurations(c.provider.type, c.providerMaxDuration);
      const subject = { keyName, key: { provider: 'p', ...c.key }, provider: { durations } };
      assert.equal(maximumDuration(subject), c.maximum);
      if (c.refused) {
        assert.throws(
          () => resolveDuration(subject, c.requested),
          (err: unknown) =>
            err instanceof InvalidRequestError &&
            err.status === 400 &&
            (c.refused as RegExp).test(err.message),
        );
      } else {
        assert.equal(resolveDuration(subject, c.requested), c.expected);
      }
    });
  }
});
