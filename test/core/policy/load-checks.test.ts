import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { check, key } from './helpers.ts';

const PIN = { repository_owner_id: '49812345' };
const ident = (match: unknown, extra: Record<string, unknown> = {}) => ({
  clientIdentities: [{ name: 'r', idp: 'gh', match, keys: { K: key() }, ...extra }],
});
const corp = (match: unknown, keys: Record<string, unknown> = { K: key() }) => ({
  clientIdentities: [{ name: 'r', idp: 'corp', match, keys }],
});

describe('load-time checks', () => {
  const errors: Array<{ name: string; config: Record<string, unknown>; error: string }> = [
    {
      name: 'a rule under a shared issuer must pin the tenant',
      config: ident({ ref: 'refs/heads/main' }),
      error: 'clientIdentities[0].match: the issuer of idp gh is shared by many tenants',
    },
    {
      name: 'a regex never pins',
      config: ident({ sub: { regex: 'repo:acme/[a-z]+:ref:refs/heads/main' } }),
      error: 'clientIdentities[0].match: the issuer of idp gh is shared',
    },
    {
      name: 'a glob without a tenant prefix does not pin',
      config: ident({ sub: { glob: 'repo:*/app:ref:refs/heads/main' } }),
      error: 'clientIdentities[0].match: the issuer',
    },
    {
      name: 'each branch of a list must pin',
      config: ident([PIN, { ref: 'x' }]),
      error: 'clientIdentities[0].match[1]: the issuer of idp gh',
    },
    {
      name: 'a regex matching everything is refused',
      config: corp({ sub: { regex: '.*' } }),
      error: 'clientIdentities[0].match.sub.regex: the regex matches everything',
    },
    {
      name: 'lookaround is refused',
      config: corp({ sub: { regex: '(?=a)a' } }),
      error: 'clientIdentities[0].match.sub.regex: lookaround is not supported',
    },
    {
      name: 'a backreference is refused',
      config: corp({ sub: { regex: '(a)\\1' } }),
      error: 'clientIdentities[0].match.sub.regex: backreferences are not supported',
    },
    {
      name: '(?i) is refused: it folds Unicode',
      config: corp({ sub: { regex: '(?i)abc' } }),
      error: 'clientIdentities[0].match.sub.regex: `(?i)` folds Unicode',
    },
    {
      name: 'a regex that does not compile alone is refused',
      config: corp({ sub: { regex: 'a)|(b' } }),
      error: 'clientIdentities[0].match.sub.regex: not a valid RE2 regex',
    },
    {
      name: 'a costly regex is refused',
      config: corp({ sub: { regex: '[a-z]{1000}[0-9]{1000}[a-c]{1000}[d-f]{1000}[g-i]{1000}' } }),
      error: 'the regex is too costly',
    },
    {
      name: 'ignoreCase needs a lower-case regex',
      config: corp({ sub: { regex: 'Abc', ignoreCase: true } }),
      error: 'must be written in lower case',
    },
    {
      name: 'a malformed ** is refused',
      config: corp({ sub: { glob: 'a**' } }),
      error: '`**` must stand alone',
    },
    {
      name: 'two operators in one condition are refused',
      config: corp({ sub: { glob: 'a', regex: 'b' } }),
      error: 'clientIdentities[0].match.sub: must hold exactly one operator',
    },
    {
      name: 'an unknown operator is refused',
      config: corp({ sub: { startsWith: 'a' } }),
      error: 'clientIdentities[0].match.sub.startsWith: unknown operator',
    },
    {
      name: 'a float condition value must be quoted',
      config: corp({ v: 1.5 }),
      error: 'clientIdentities[0].match.v: must be a string, boolean or safe integer',
    },
    {
      name: 'iss is implied by idp',
      config: corp({ iss: 'x' }),
      error: 'clientIdentities[0].match.iss: `iss` is implied by `idp`',
    },
    { name: 'exp may not be matched', config: corp({ '/exp': '1' }), error: 'may not be matched' },
    {
      name: 'lists hold at most 64 values',
      config: corp({ v: Array.from({ length: 65 }, (_, i) => `v${i}`) }),
      error: 'clientIdentities[0].match.v: must list at most 64 values',
    },
    {
      name: 'a branch holds at most 32 conditions',
      config: corp(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`c${i}`, 'x']))),
      error: 'at most 32 conditions',
    },
    {
      name: 'a match holds at most 16 branches',
      config: corp(Array.from({ length: 17 }, () => ({ a: 'b' }))),
      error: 'clientIdentities[0].match: at most 16 branches',
    },
    {
      name: 'an unknown template source is refused',
      config: corp({ a: 'b' }, { K: key({ roleSessionName: '{{ env.HOME }}' }) }),
      error: 'clientIdentities[0].keys.K.roleSessionName: unknown template source',
    },
    {
      name: 'an unknown template filter is refused',
      config: corp({ a: 'b' }, { K: key({ roleSessionName: '{{ claims.a | shell }}' }) }),
      error: 'unknown template filter',
    },
    {
      name: 'an unclosed placeholder is refused',
      config: corp({ a: 'b' }, { K: key({ description: 'x {{ claims.a' }) }),
      error: 'clientIdentities[0].keys.K.description: a `{{` is not closed',
    },
    {
      name: 'a template in a field that takes none is refused',
      config: corp({ a: 'b' }, { K: key({ scope: '{{ claims.a }}' }) }),
      error: 'clientIdentities[0].keys.K.scope: templates are not allowed in this field',
    },
    {
      name: 'a claim may not choose a principal',
      config: corp({ a: 'b' }, { K: key({ roleArn: 'arn:aws:iam::1:role/{{ claims.a }}' }) }),
      error: 'clientIdentities[0].keys.K.roleArn: this field chooses a principal',
    },
    {
      name: 'a capture missing from a branch is refused',
      config: corp([{ sub: { regex: '(?P<team>[a-z]+)-x' } }, { sub: 'fixed' }], {
        K: key({ roleArn: 'arn:aws:iam::111111111111:role/{{ match.team }}' }),
      }),
      error: 'clientIdentities[0]: key K uses match.team, but branch 1 of this identity does not capture it',
    },
    {
      name: 'an ARN placeholder before the account is refused',
      config: corp(
        { sub: { regex: '(?P<a>[a-z]+)' } },
        { K: key({ roleArn: 'arn:aws:iam::{{ match.a }}:role/x' }) },
      ),
      error: 'placeholders may only follow the account',
    },
    {
      name: 'a tag claim every branch does not constrain is refused',
      config: corp(
        { a: 'b' },
        { K: key({ assumeRole: { roleArn: 'arn:aws:iam::1:role/x', tags: { team: '{{ claims.team }}' } } }) },
      ),
      error: 'puts claim team in a session tag',
    },
    {
      name: 'a policy placeholder outside a string is refused',
      config: corp({ a: 'b' }, { K: key({ policy: '{"a": {{ claims.a }} }' }) }),
      error: 'placeholders only inside string values',
    },
    {
      name: 'a grant of an unknown catalog key is refused',
      config: {
        keys: { DEPLOY: key() },
        clientIdentities: [{ name: 'r', idp: 'corp', match: { a: 'b' }, grants: ['DEPLY'] }],
      },
      error:
        'clientIdentities[0].grants[0]: unknown key "DEPLY": not in the catalog (top-level keys); did you mean DEPLOY?',
    },
    {
      name: 'a key both in the catalog and inline is refused',
      config: {
        keys: { K: key() },
        clientIdentities: [{ name: 'r', idp: 'corp', match: { a: 'b' }, keys: { K: key() } }],
      },
      error: 'clientIdentities[0].keys.K: key K is defined in the catalog',
    },
    {
      name: 'subject and match together are refused',
      config: {
        clientIdentities: [{ name: 'r', subject: 's', idp: 'corp', match: { a: 'b' }, keys: { K: key() } }],
      },
      error: 'clientIdentities[0].match: `subject` and `match` are mutually exclusive',
    },
    {
      name: 'a match identity needs a name',
      config: { clientIdentities: [{ idp: 'corp', match: { a: 'b' }, keys: { K: key() } }] },
      error: 'clientIdentities[0].name: required with `match`',
    },
    {
      name: 'identity names are unique',
      config: {
        clientIdentities: [
          { name: 'r', idp: 'corp', match: { a: 'b' }, keys: { K: key() } },
          { name: 'r', idp: 'corp', match: { a: 'c' }, keys: { K: key() } },
        ],
      },
      error: 'clientIdentities[1].name: duplicate name',
    },
    {
      name: 'a deny rule names a known idp',
      config: { denyRules: [{ name: 'd', idp: 'nope', match: { a: 'b' }, keys: ['*'] }] },
      error: 'denyRules[0].idp: unknown idp "nope"',
    },
    {
      name: 'deny rule names are unique',
      config: {
        denyRules: [
          { name: 'd', idp: 'corp', match: { a: 'b' }, keys: ['*'] },
          { name: 'd', idp: 'corp', match: { a: 'c' }, keys: ['*'] },
        ],
      },
      error: 'denyRules[1].name: duplicate name',
    },
    {
      name: 'tenantClaims make an issuer shared',
      config: {
        clientIdps: [
          { name: 'corp', issuer: 'https://idp.corp.example', audience: 'v', tenantClaims: ['org_id'] },
        ],
        clientIdentities: [{ name: 'r', idp: 'corp', match: { a: 'b' }, keys: { K: key() } }],
      },
      error: 'clientIdentities[0].match: the issuer of idp corp is shared',
    },
  ];
  for (const c of errors) {
    test(`refuses: ${c.name}`, () => {
      const { errors: found } = check(c.config);
      assert.ok(
        found.some((e) => e.includes(c.error)),
        `expected ${JSON.stringify(c.error)} among ${JSON.stringify(found)}`,
      );
    });
  }

  const fine: Array<{ name: string; config: Record<string, unknown>; warning?: string }> = [
    { name: 'a pin by owner id', config: ident({ ...PIN, ref: 'refs/heads/main' }) },
    {
      name: 'a pin by require',
      config: {
        clientIdps: [
          { name: 'gh', issuer: 'https://token.actions.githubusercontent.com', audience: 'v', require: PIN },
        ],
        ...ident({ ref: 'x' }),
      },
    },
    {
      name: 'a glob with the immutable owner id prefix',
      config: ident({ sub: { glob: 'repo:acme@49812345/*:ref:refs/heads/main' } }),
    },
    {
      name: 'a tenantClaims pin',
      config: {
        clientIdps: [
          { name: 'corp', issuer: 'https://idp.corp.example', audience: 'v', tenantClaims: ['org_id'] },
        ],
        clientIdentities: [{ name: 'r', idp: 'corp', match: { org_id: 'o1' }, keys: { K: key() } }],
      },
    },
    {
      name: 'a name-only pin warns',
      config: ident({ repository_owner: 'acme' }),
      warning: 'clientIdentities[0].match: pinned only by names',
    },
    {
      name: 'a glob pin by owner name warns',
      config: ident({ sub: { glob: 'repo:acme/*:ref:refs/heads/main' } }),
      warning: 'pinned only by names',
    },
    {
      name: 'a star glued to a name warns',
      config: ident({ ...PIN, sub: { glob: 'repo:acme*' } }),
      warning: 'clientIdentities[0].match.sub: `*` glued to a name',
    },
    {
      name: 'a subject without a tenant prefix warns',
      config: { clientIdentities: [{ subject: 'octocat', idp: 'gh', keys: { K: key() } }] },
      warning: 'clientIdentities[0].subject: the issuer of idp gh is shared',
    },
    {
      name: 'a single-tenant issuer needs no pin',
      config: corp(
        { sub: { regex: 'system:serviceaccount:(?P<team>team-[a-z]+):deployer' } },
        { K: key({ roleArn: 'arn:aws:iam::333333333333:role/k8s-{{ match.team }}' }) },
      ),
    },
    {
      name: 'a policy placeholder followed by * warns',
      config: corp({ a: 'b' }, { K: key({ policy: '{"Resource": "arn:aws:s3:::b/{{ claims.a }}*"}' }) }),
      warning: 'followed directly by `*`',
    },
    {
      name: 'the {{ "{{" }} escape',
      config: corp({ a: 'b' }, { K: key({ description: 'literal {{ "{{" }} braces' }) }),
    },
  ];
  for (const c of fine) {
    test(`accepts: ${c.name}`, () => {
      const { errors: found, warnings } = check(c.config);
      assert.deepEqual(found, []);
      if (c.warning)
        assert.ok(
          warnings.some((w) => w.includes(c.warning as string)),
          JSON.stringify(warnings),
        );
      else assert.deepEqual(warnings, []);
    });
  }
});
