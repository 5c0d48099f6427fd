/**
 * The Node lines the project names stay in step: the GitHub Action installs the
 * major the Docker image runs (and CI tests the whole suite on), and the image's
 * stated support floor is the one package.json's engines declares.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { DEPLOY, REPO } from './kit.ts';

const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { engines: { node: string } };
const action = parse(readFileSync(join(REPO, 'action.yml'), 'utf8')) as {
  runs: { steps: { uses?: string; with?: Record<string, unknown> }[] };
};

function imageMajor(): number {
  const arg = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile);
  assert.ok(arg, 'ARG NODE_VERSION');
  return Number(arg[1]);
}

describe('supported Node lines', () => {
  test('the Action sets up the same major as the Docker image', () => {
    const setup = action.runs.steps.filter((s) => s.uses?.startsWith('actions/setup-node@'));
    assert.equal(setup.length, 1);
    assert.equal(String(setup[0]?.with?.['node-version']), String(imageMajor()));
  });

  test('engines declares Node 22 or later, and the Dockerfile states that floor', () => {
    assert.equal(pkg.engines.node, '>=22');
    const stated = /supports Node\.js >= (\d+)/.exec(dockerfile);
    assert.ok(stated, 'the Dockerfile states the supported floor');
    assert.equal(`>=${stated[1]}`, pkg.engines.node);
    assert.ok(imageMajor() >= 22);
  });
});
