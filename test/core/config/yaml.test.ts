import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, loadText } from './helpers.ts';

after(cleanup);

const IDPS = `
brokerIdp: &broker
  name: keycloak
  issuer: https://auth.example.com/realms/voidkey
  audience: voidkey-broker
  clientId: broker-service
  clientSecret: not-a-real-secret
clientIdps:
  - &gh
    name: github-actions
    issuer: https://token.actions.githubusercontent.com
    audience: voidkey
`;

describe('YAML parsing', () => {
  test('anchors, aliases and merge keys work within a file', async () => {
    const out = await loadText(`${IDPS}
  - <<: *gh
    name: gitlab
    issuer: https://gitlab.com
    clockTolerance: 5
accessProviders:
  - name: aws-prod
    type: aws-sts
clientIdentities:
  - subject: &sub repo:myorg/myapp:ref:refs/heads/main
    idp: github-actions
    keys: &keys
      AWS_DEPLOY: { provider: aws-prod, roleArn: "arn:aws:iam::123456789012:role/Deploy" }
  - subject: *sub
    idp: gitlab
    keys: *keys
`);
    assert.deepEqual(out.problems, []);
    const gitlab = out.config?.clientIdps[1];
    assert.equal(gitlab?.name, 'gitlab');
    assert.equal(gitlab?.audience, 'voidkey');
    assert.equal(gitlab?.clockTolerance, 5);
    assert.equal(out.config?.clientIdentities[1]?.subject, 'repo:myorg/myapp:ref:refs/heads/main');
    assert.equal(out.config?.clientIdentities[1]?.keys.AWS_DEPLOY?.provider, 'aws-prod');
  });

  test('YAML 1.1 words like yes stay strings (core schema), so no silent booleans', async () => {
    const out = await loadText(`${IDPS}server: { allowQueryToken: yes }\n`);
    assert.deepEqual(out.problems, ['server.allowQueryToken: must be true or false (got a string)']);
  });

  test('duplicate keys are refused with their name, line and column', async () => {
    const out = await loadText(`${IDPS}server:\n  port: 1\n  port: 2\n`);
    assert.deepEqual(out.problems, [
      'config.yaml: line 15, column 3: duplicate key "port" (each key may appear once in a map)',
    ]);
  });

  test('a quoted duplicate key is named without its quotes, at its opening quote', async () => {
    const out = await loadText(`${IDPS}server: {"port": 1, "port": 2}\n`);
    assert.deepEqual(out.problems, [
      'config.yaml: line 13, column 21: duplicate key "port" (each key may appear once in a map)',
    ]);
  });

  test('a file of more than one document is refused', async () => {
    const out = await loadText(`${IDPS}---\nserver: {}\n`);
    assert.deepEqual(out.problems, [
      'config.yaml: the file holds more than one YAML document (`---` starts another); use one per file',
    ]);
  });

  test('an undefined alias is named with its line and column and a hint towards includes', async () => {
    const out = await loadText(`${IDPS}accessProviders: *providers\n`);
    assert.deepEqual(out.problems, [
      'config.yaml: line 13, column 18: undefined alias *providers: no anchor &providers before it in this file ' +
        '(anchors work only within one file; to reuse settings from another file, list it under `includes:`)',
    ]);
  });

  test('an alias to an anchor of an included file gets the same hint', async () => {
    const out = await loadText(
      'includes: [base.yaml]\nclientIdentities:\n  - { subject: s, idp: github-actions, keys: *keys }\n',
      {},
      { 'base.yaml': `${IDPS}x: &keys {}\n` },
    );
    assert.equal(out.problems.length, 1);
    assert.match(
      out.problems[0] ?? '',
      /^config\.yaml: line 3, column 46: undefined alias \*keys: .*`includes:`/,
    );
  });

  test('tabs used for indentation are one line, however many lines use them', async () => {
    const out = await loadText(`${IDPS}server:\n\tport: 1\n\thost: x\n\tbodyLimit: 2\n`);
    assert.deepEqual(out.problems, [
      'config.yaml: line 14, column 1: a tab is used for indentation; YAML indents with spaces only',
    ]);
  });

  test('syntax errors name the file, line and column without quoting the source line', async () => {
    const out = await loadText('brokerIdp:\n  clientSecret: "hunter22-secret\n');
    assert.equal(out.problems.length >= 1, true);
    for (const p of out.problems) {
      assert.match(p, /^config\.yaml: line \d+, column \d+: /);
      assert.ok(!p.includes('hunter22-secret'), p);
    }
  });

  test('a billion-laughs document is refused, quickly (aliases share their anchor; expansion is bounded)', async () => {
    // Nine levels of nine aliases each: 9^9 (387 million) strings once expanded.
    const levels = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const uses = (anchor: string) => Array(9).fill(`*${anchor}`).join(',');
    for (let i = 1; i <= 8; i++) levels.push(`l${i}: &l${i} [${uses(`l${i - 1}`)}]`);
    const started = Date.now();
    const out = await loadText(levels.join('\n'));
    assert.deepEqual(out.problems, [
      'config.yaml: the document expands to more than 1000000 values or 64 MiB of text through aliases',
    ]);
    assert.ok(Date.now() - started < 10_000);
  });

  test('more aliases than the cap are refused with the line of the first one over it', async () => {
    const uses = Array.from({ length: 1001 }, (_, i) => `k${i}: *a`).join('\n');
    const out = await loadText(`a: &a x\n${uses}\n`);
    assert.deepEqual(out.problems, ['config.yaml: line 1002, column 8: more than 1000 aliases in one file']);
  });

  test('a document that is not a map is refused', async () => {
    const out = await loadText('- a\n- b\n');
    assert.deepEqual(out.problems, ['config.yaml: the document must be a map of sections']);
  });

  test('an empty file (or one of only comments) is said to be empty, with its full path', async () => {
    for (const text of ['', '# nothing yet\n']) {
      const out = await loadText(text);
      assert.equal(out.problems.length, 1);
      assert.match(
        out.problems[0] ?? '',
        /^config\.yaml: the config file \/\S+\/config\.yaml is empty \(it holds no settings\)$/,
      );
    }
  });

  test('an empty included file adds nothing and is no error', async () => {
    const out = await loadText(`includes: [empty.yaml]\n${IDPS}`, {}, { 'empty.yaml': '' });
    assert.deepEqual(out.problems, []);
  });

  test('a key with nothing after it counts as not set', async () => {
    const out = await loadText(`${IDPS}server:\nlogging:\n  level:\n`);
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.server.port, 3000);
    assert.equal(out.config?.logging.level, 'info');
  });
});

describe('aliases and expansion', () => {
  test('a flat anchor may be reused many times', async () => {
    const identities = Array.from(
      { length: 300 },
      (_, i) => `  - { subject: "s${i}", idp: github-actions, keys: *keys }`,
    ).join('\n');
    const out = await loadText(`${IDPS}accessProviders: [{ name: aws-prod, type: aws-sts }]
clientIdentities:
  - subject: first
    idp: github-actions
    keys: &keys
      AWS_DEPLOY: { provider: aws-prod, roleArn: "arn:aws:iam::123456789012:role/Deploy" }
${identities}
`);
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.clientIdentities.length, 301);
  });

  test('an aliased value is substituted once, so $${ stays literal in every copy', async () => {
    const out = await loadText(
      `${IDPS}accessProviders: [{ name: aws-prod, type: aws-sts }]
clientIdentities:
  - subject: a
    idp: github-actions
    keys: &keys
      AWS_DEPLOY: { provider: aws-prod, roleArn: "arn:aws:iam::123456789012:role/Deploy", description: "$\${HOME}" }
  - { subject: b, idp: github-actions, keys: *keys }
`,
      { HOME: '/root' },
    );
    assert.deepEqual(out.problems, []);
    assert.deepEqual(
      out.config?.clientIdentities.map((i) => i.keys.AWS_DEPLOY?.description),
      ['${HOME}', '${HOME}'],
    );
  });

  test('a document expanding to too much data through aliases is refused', async () => {
    const big = `"${'x'.repeat(100)}"`;
    const text = `a: &a [${Array(999).fill(big).join(',')}]\nb: [${Array(999).fill('*a').join(',')}]\n`;
    const started = Date.now();
    const out = await loadText(text);
    assert.deepEqual(out.problems, [
      'config.yaml: the document expands to more than 1000000 values or 64 MiB of text through aliases',
    ]);
    assert.ok(Date.now() - started < 10_000);
  });
});
