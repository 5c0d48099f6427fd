import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { FakeBroker } from './fake-broker.ts';
import { AWS_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Step {
  name?: string;
  uses?: string;
  if?: string;
  run?: string;
  env?: Record<string, string>;
}
interface Action {
  inputs: Record<string, { required: boolean; default?: string }>;
  runs: { using: string; steps: Step[] };
}

const action = parseYaml(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as Action;
let broker: FakeBroker;
let home: string;
let actionPath: string;
let runnerToken: string;

before(async () => {
  ({ broker } = await startBroker([AWS_KEY]));
  home = makeHome();
  runnerToken = makeToken({
    iss: 'https://token.actions.githubusercontent.com',
    sub: SUBJECT,
    aud: 'from-input',
  });
  broker.trusted.add(runnerToken);
  broker.runner.issue = () => runnerToken;
  // Stands in for a release checkout whose dist/ holds the built CLI.
  actionPath = join(home, 'action');
  mkdirSync(join(actionPath, 'dist', 'cli'), { recursive: true });
  const main = pathToFileURL(join(ROOT, 'src/cli/main.ts')).href;
  writeFileSync(join(actionPath, 'dist', 'cli', 'main.js'), `import(${JSON.stringify(main)});\n`);
});
after(async () => {
  await broker.stop();
  removeHome(home);
});

/** Runs the action's mint step as the runner would: inputs through its env block, bash, the job's variables. */
async function runMintStep(inputs: Record<string, string>, extraEnv: Record<string, string>) {
  const step = action.runs.steps.find((s) => s.run?.includes('--output github'));
  assert.ok(step?.run && step.env);
  const stepEnv = Object.fromEntries(
    Object.entries(step.env).map(([name, value]) => [
      name,
      value.replace(
        /\$\{\{ inputs\.([a-z-]+) \}\}/g,
        (_, input: string) => inputs[input] ?? action.inputs[input]?.default ?? '',
      ),
    ]),
  );
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    NODE_OPTIONS: '--import tsx',
    ...stepEnv,
    ...extraEnv,
  };
  const child = spawn('bash', ['-e', '-c', step.run], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.ok(!stdout.includes(runnerToken) && !stderr.includes(runnerToken), 'the token leaked');
  return { code, stdout, stderr };
}

describe('action.yml', () => {
  test('is a composite action with the documented inputs', () => {
    assert.equal(action.runs.using, 'composite');
    assert.deepEqual(Object.keys(action.inputs), ['broker-url', 'keys', 'audience', 'duration', 'version']);
    assert.equal(action.inputs['broker-url']?.required, true);
    assert.equal(action.inputs.keys?.required, true);
    for (const optional of ['audience', 'duration', 'version'])
      assert.equal(action.inputs[optional]?.required, false);
    assert.ok(action.runs.steps.some((s) => s.uses?.startsWith('actions/setup-node@')));
  });

  test('never splices an input into a script, only into step environments', () => {
    for (const step of action.runs.steps) assert.doesNotMatch(step.run ?? '', /\$\{\{/);
  });

  test('mints with the runner token, masks the secret values and exports every variable to $GITHUB_ENV', async () => {
    const githubEnv = join(home, 'github_env');
    writeFileSync(githubEnv, '');
    const { code, stdout, stderr } = await runMintStep(
      { 'broker-url': broker.url, keys: 'AWS_DEPLOY', audience: 'from-input', duration: '900' },
      {
        GITHUB_ACTIONS: 'true',
        GITHUB_ACTION_PATH: actionPath,
        GITHUB_ENV: githubEnv,
        ACTIONS_ID_TOKEN_REQUEST_URL: `${broker.url}/runner/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: broker.runner.requestToken,
      },
    );
    assert.equal(code, 0, stderr);
    // The region is a literal, left readable; the credentials are masked.
    const { AWS_REGION, ...secrets } = AWS_KEY.outputs;
    assert.equal(AWS_REGION, 'us-east-1');
    assert.equal(
      stdout,
      Object.values(secrets)
        .map((v) => `::add-mask::${v}\n`)
        .join(''),
    );
    assert.ok(stdout.includes(`::add-mask::${AWS_KEY.outputs.AWS_SECRET_ACCESS_KEY}\n`));
    assert.equal(broker.requests('/runner/token')[0]?.query.get('audience'), 'from-input');
    assert.deepEqual(broker.requests('/credentials/mint')[0]?.body, { keys: ['AWS_DEPLOY'], duration: 900 });
    const file = readFileSync(githubEnv, 'utf8');
    for (const [name, value] of Object.entries(AWS_KEY.outputs)) {
      assert.match(
        file,
        new RegExp(`^${name}<<(ghadelimiter_[0-9a-f-]+)\\n${escapeRegExp(value)}\\n\\1$`, 'm'),
      );
    }
  });

  test('never fetches a package from a registry: no npx, and a version input is refused', async () => {
    for (const step of action.runs.steps)
      assert.doesNotMatch(step.run ?? '', /\bnpx\b|npm (exec|install|i) /);
    const minted = broker.requests('/credentials/mint').length;
    for (const version of ['0.1.0', 'file:../evil']) {
      const { code, stdout } = await runMintStep(
        { 'broker-url': broker.url, keys: 'AWS_DEPLOY', version },
        { GITHUB_ACTION_PATH: actionPath },
      );
      assert.equal(code, 2);
      assert.equal(
        stdout,
        "::error title=voidkey::input 'version' is no longer supported: the action runs its own checkout; pin the action's ref instead (voidkey/voidkey@<tag>)\n",
      );
    }
    assert.equal(broker.requests('/credentials/mint').length, minted);
  });

  test("installs the Docker image's Node major when the runner's node is older than 22", async () => {
    const dockerfile = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
    const major = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1];
    const setup = action.runs.steps.find((s) => s.uses?.startsWith('actions/setup-node@')) as Step & {
      with?: { 'node-version'?: unknown };
    };
    assert.equal(String(setup.with?.['node-version']), major);
    assert.equal(setup.name, `Set up Node.js ${major} (the Docker image's major)`);
    const check = action.runs.steps.find((s) => s.name === 'Check for Node.js 22 or later');
    assert.ok(check?.run);
    for (const [version, setupNeeded] of [
      ['20.19.0', 'true'],
      ['22.0.0', 'false'],
      ['26.1.0', 'false'],
    ]) {
      const bin = join(home, `node-${version}`);
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'node'), `#!/bin/sh\necho ${version.split('.')[0]}\n`, { mode: 0o755 });
      const output = join(bin, 'output');
      writeFileSync(output, '');
      const child = spawn('bash', ['-e', '-c', check.run], {
        env: { PATH: `${bin}:/usr/bin:/bin`, GITHUB_OUTPUT: output },
      });
      assert.equal(await new Promise((resolve) => child.on('close', resolve)), 0);
      assert.equal(readFileSync(output, 'utf8'), `setup=${setupNeeded}\n`, version);
    }
    const readme = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');
    assert.doesNotMatch(readme, /older than 20\b|Node(\.js)? 20 or later/);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
