/**
 * Property tests over the template renderers: a claim value holding `"`, `}`,
 * `*`, `${`, newlines, control characters or 10 KiB never changes which
 * identities match or which keys are granted, and a rendered value either
 * passes its target's rule (stated here from the cloud's own rules, not read
 * from the implementation) or the key is refused with the reason
 * docs/policy.md gives for that target.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { KeyOutcome } from '../../../src/core/policy/index.ts';
import { compiled, key } from './helpers.ts';

const ROLE = 'arn:aws:iam::222222222222:role/base';
const POLICY_DOC = (resource: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }],
});
const policyTemplate = (resource: string) => JSON.stringify(POLICY_DOC(resource));

const CATALOG = {
  PLAIN: key({ roleArn: ROLE, roleSessionName: 'fixed' }),
  SESSION: key({ roleArn: ROLE, roleSessionName: 'gha-{{ claims.x }}' }),
  HASHED: key({ roleArn: ROLE, roleSessionName: '{{ claims.x | sessionName }}' }),
  LOWER: key({ roleArn: ROLE, roleSessionName: 'u-{{ claims.x | lower }}' }),
  TAG: key({
    roleArn: ROLE,
    assumeRole: { roleArn: `${ROLE}2`, tags: { v: '{{ claims.x }}', fixed: 'team' } },
  }),
  POLICY: key({ roleArn: ROLE, policy: policyTemplate('arn:aws:s3:::bucket/{{ claims.x }}/*') }),
  PATH: key({ roleArn: ROLE, policy: policyTemplate('arn:aws:s3:::bucket/{{ claims.x | path(2) }}/*') }),
  OUTPUT: key({ roleArn: ROLE, outputs: { TEAM: { value: '{{ claims.x }}' } } }),
  DESCRIBED: key({ roleArn: ROLE, description: 'for {{ claims.x }}' }),
  PRINCIPAL: key({ roleArn: 'arn:aws:iam::222222222222:role/team-{{ match.team }}' }),
};
const KEYS = Object.keys(CATALOG);
const TEMPLATE_REASONS = new Set([
  'template_claim_missing',
  'template_value_invalid',
  'template_value_unsafe',
  'policy_too_large',
]);

const policy = compiled({
  keys: CATALOG,
  clientIdentities: [
    {
      name: 'app',
      idp: 'corp',
      match: { group: 'ci', x: { present: true } },
      grants: KEYS.filter((k) => k !== 'PRINCIPAL'),
    },
    { name: 'teams', idp: 'corp', match: { sub: { regex: 'svc:(?P<team>.+)' } }, grants: ['PRINCIPAL'] },
  ],
});

const decide = (x: unknown, extra: Record<string, unknown> = {}) =>
  policy.authorize(
    { idp: 'corp', claims: { sub: `svc:${typeof x === 'string' ? x : 'other'}`, group: 'ci', x, ...extra } },
    KEYS,
  );

// The targets' rules as the clouds state them (AWS STS session names and tags).
const AWS_SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const AWS_TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const CAPTURE = /^[\w+=,.@-]{1,64}$/;
const CONTROL = { test: (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c === '\x7f') };
// A value substituted into a policy must not widen it: no wildcard, variable,
// brace or path separator, printable ASCII only.
const POLICY_SAFE = /^[\x20-\x7e]*$/;
const POLICY_WIDENING = /[*?${}/]/;

const pieces = [
  '"',
  '}',
  '}}',
  '{{',
  '{{ claims.y }}',
  '*',
  '?',
  '${',
  '${aws:username}',
  '\n',
  '\r\n',
  '\u0000',
  '\u007f',
  '\\',
  '/',
  '..',
  ':',
  '"}]}',
  'arn:aws:iam::999999999999:role/admin',
  'a',
  'Z',
  '0',
  '-',
  '_',
  '@',
  '=',
  ' ',
  'é',
  '\u212a',
  '\u2028',
  '😀',
];
/** Claim values made to break out of whatever they are placed in, including 10 KiB ones. */
const hostile = fc.oneof(
  fc
    .array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 8 })), { maxLength: 24 })
    .map((a) => a.join('')),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc
    .tuple(fc.constantFrom(...pieces), fc.integer({ min: 1000, max: 10_240 }))
    .map(([p, n]) => p.repeat(Math.ceil(n / p.length)).slice(0, n)),
  fc.constant('a'.repeat(10_240)),
);

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const granted = (o: KeyOutcome | undefined) => (o?.granted ? o.key : undefined);
const reason = (o: KeyOutcome | undefined) => (o && !o.granted ? o.reason : undefined);

describe('template renderers under hostile claim values', () => {
  const baseline = decide('web');

  test('the baseline grants every key (so the properties below can fail)', () => {
    assert.deepEqual({ ...baseline.reasons }, { PATH: 'template_value_unsafe' }, 'one segment, not two');
    assert.deepEqual(baseline.matched, ['app', 'teams']);
    assert.equal(decide('web/app').outcomes.PATH?.granted, true);
  });

  test('never change which identities match, and never touch a key without templates', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const d = decide(v);
        assert.ok(d.matched.includes('app'));
        assert.deepEqual(granted(d.outcomes.PLAIN), granted(baseline.outcomes.PLAIN));
        for (const name of KEYS) {
          const r = reason(d.outcomes[name]);
          if (r === undefined) continue;
          if (name === 'PRINCIPAL' && r === 'key_not_granted') continue; // `teams` needs a one-line sub
          assert.ok(TEMPLATE_REASONS.has(r), `${name}: ${r}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a session name is granted exactly when the literal text plus the value is a valid AWS session name', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const d = decide(v);
        const usable = v !== '' && bytes(v) <= 1024;
        const ok = usable && AWS_SESSION_NAME.test(`gha-${v}`);
        assert.equal(granted(d.outcomes.SESSION)?.roleSessionName, ok ? `gha-${v}` : undefined);
        if (!ok)
          assert.equal(
            reason(d.outcomes.SESSION),
            usable ? 'template_value_invalid' : 'template_claim_missing',
          );
        const lower = granted(d.outcomes.LOWER)?.roleSessionName;
        if (lower !== undefined) assert.match(lower, AWS_SESSION_NAME);
      }),
      { numRuns: 300 },
    );
  });

  test('| sessionName makes any usable value a valid session name, distinct values distinct names', () => {
    fc.assert(
      fc.property(hostile, hostile, (a, b) => {
        const usable = (v: string) => v !== '' && bytes(v) <= 1024;
        const na = granted(decide(a).outcomes.HASHED)?.roleSessionName;
        const nb = granted(decide(b).outcomes.HASHED)?.roleSessionName;
        assert.equal(na !== undefined, usable(a));
        if (na !== undefined) assert.match(na, AWS_SESSION_NAME);
        if (na !== undefined && nb !== undefined && a !== b) assert.notEqual(na, nb);
      }),
      { numRuns: 300 },
    );
  });

  test('an assumeRole tag carries the value unchanged when it is a valid AWS tag value, else refuses the key', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const o = decide(v).outcomes.TAG;
        const usable = v !== '' && bytes(v) <= 1024;
        const ok = usable && AWS_TAG_VALUE.test(v) && !CONTROL.test(v);
        const tags = granted(o)?.assumeRole?.tags;
        assert.deepEqual(tags, ok ? { v, fixed: 'team' } : undefined);
        if (!ok) assert.equal(reason(o), usable ? 'template_value_invalid' : 'template_claim_missing');
      }),
      { numRuns: 300 },
    );
  });

  test('a session policy changes only in the templated string, and only by a value that cannot widen it', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const usable = v !== '' && bytes(v) <= 1024;
        const safe = POLICY_SAFE.test(v) && !POLICY_WIDENING.test(v);
        const expected = POLICY_DOC(`arn:aws:s3:::bucket/${v}/*`);
        const small = JSON.stringify(expected).length <= 2048;
        const o = decide(v).outcomes.POLICY;
        const rendered = granted(o)?.policy;
        assert.equal(rendered !== undefined, usable && safe && small);
        if (rendered !== undefined) assert.deepEqual(JSON.parse(rendered), expected);
        else if (!usable) assert.equal(reason(o), 'template_claim_missing');
        else assert.equal(reason(o), safe ? 'policy_too_large' : 'template_value_unsafe');
      }),
      { numRuns: 300 },
    );
  });

  test('| path(2) lets exactly two plain segments into a policy', () => {
    const twoSegments = fc
      .tuple(hostile, fc.constantFrom('/', '//', '/../', '/./'), hostile)
      .map(([a, s, b]) => `${a.slice(0, 20)}${s}${b.slice(0, 20)}`);
    fc.assert(
      fc.property(fc.oneof(hostile, twoSegments), (v) => {
        const usable = v !== '' && bytes(v) <= 1024;
        const parts = v.split('/');
        const ok =
          usable &&
          POLICY_SAFE.test(v) &&
          !/[*?${}]/.test(v) &&
          parts.length === 2 &&
          parts.every((p) => p !== '' && p !== '.' && p !== '..');
        const o = decide(v).outcomes.PATH;
        const rendered = granted(o)?.policy;
        assert.equal(rendered !== undefined, ok);
        if (rendered !== undefined) {
          assert.deepEqual(JSON.parse(rendered), POLICY_DOC(`arn:aws:s3:::bucket/${v}/*`));
        } else if (usable) assert.equal(reason(o), 'template_value_unsafe');
      }),
      { numRuns: 300 },
    );
  });

  test('outputs and descriptions carry the value unchanged unless it holds a control character', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const d = decide(v);
        const usable = v !== '' && bytes(v) <= 1024;
        const ok = usable && !CONTROL.test(v);
        assert.deepEqual(granted(d.outcomes.OUTPUT)?.outputs, ok ? { TEAM: { value: v } } : undefined);
        assert.equal(granted(d.outcomes.DESCRIBED)?.description, ok ? `for ${v}` : undefined);
        if (!ok) {
          const why = usable ? 'template_value_invalid' : 'template_claim_missing';
          assert.equal(reason(d.outcomes.OUTPUT), why);
          assert.equal(reason(d.outcomes.DESCRIBED), why);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a principal keeps its partition and account; a capture outside [\\w+=,.@-]{1,64} refuses the key', () => {
    fc.assert(
      fc.property(hostile, (v) => {
        const o = decide(v).outcomes.PRINCIPAL;
        const arn = granted(o)?.roleArn;
        assert.equal(arn !== undefined, CAPTURE.test(v));
        if (arn !== undefined) {
          assert.equal(arn, `arn:aws:iam::222222222222:role/team-${v}`);
          assert.deepEqual(arn.split(':').slice(0, 5), ['arn', 'aws', 'iam', '', '222222222222']);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a claim of any JSON type never throws and never grants a templated key an unusable value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (x) => {
        const d = decide(x);
        if (x !== null) assert.deepEqual(granted(d.outcomes.PLAIN), granted(baseline.outcomes.PLAIN));
        const scalar =
          (typeof x === 'string' && x !== '' && bytes(x) <= 1024) ||
          typeof x === 'boolean' ||
          (typeof x === 'number' && Number.isSafeInteger(x));
        // `present: true` does not hold on null, so `app` matches every other value.
        assert.equal(d.matched.includes('app'), x !== null);
        if (!scalar) {
          for (const name of KEYS.filter((k) => k !== 'PLAIN' && k !== 'PRINCIPAL')) {
            const why: string = x === null ? 'key_not_granted' : 'template_claim_missing';
            assert.equal(reason(d.outcomes[name]), why, name);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
