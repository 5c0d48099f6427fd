/**
 * Tests leave nothing in the temp directory: some write private keys and
 * secrets there, and a shared machine keeps /tmp. Every file that makes a
 * temp directory also removes one, and test files known to have leaked are
 * run with a private TMPDIR that must come back empty.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => relative(REPO, join(d.parentPath, d.name)));
}

/**
 * Helpers that make a temp directory for their callers to remove: the file
 * that defines one is exempt, and every file calling it must remove instead.
 */
export const MAKERS: Record<string, string> = {
  'test/deploy/shell.ts': 'toolDir',
  'src/dev/sandbox/config.ts': 'writeDevConfig',
};

const removes = (text: string) => /\brm(Sync)?\([^;]{0,200}?recursive: true/.test(text);

/** Files that make a temp directory (directly or through a MAKERS helper) but never remove anything recursively. */
export function leakers(files: Array<{ name: string; text: string }>, makers = MAKERS): string[] {
  const calls = (text: string) => Object.values(makers).some((fn) => text.includes(`${fn}(`));
  return files
    .filter(
      ({ name, text }) =>
        (/\bmkdtemp(Sync)?\(/.test(text) && !(name in makers)) || (!(name in makers) && calls(text)),
    )
    .filter(({ text }) => !removes(text))
    .map(({ name }) => name);
}

/** Runs one test file with a fresh TMPDIR; returns what it left there (tsx's own compile cache excepted). */
function leftBehind(file: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'voidkey-tmpcheck-'));
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], {
      cwd: REPO,
      encoding: 'utf8',
      // Without NODE_TEST_CONTEXT the file runs as its own test run, not as a child of this one.
      env: { ...process.env, NODE_TEST_CONTEXT: undefined, TMPDIR: dir },
    });
    assert.equal(r.status, 0, `${file} failed:\n${r.stdout.slice(-2000)}`);
    assert.match(r.stdout, /^# pass [1-9]/m, `${file} ran no test`);
    return readdirSync(dir).filter((n) => !/^tsx-/.test(n));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('temporary directories', () => {
  test('every test, bench and source file that makes one also removes one', () => {
    const files = [...sources('test'), ...sources('bench'), ...sources('src')].map((name) => ({
      name,
      text: readFileSync(join(REPO, name), 'utf8'),
    }));
    assert.ok(files.length > 100);
    assert.deepEqual(leakers(files), []);
  });

  test('the check finds a file that makes one and never removes it', () => {
    const made = "const dir = mkdtempSync(join(tmpdir(), 'x-'));";
    assert.deepEqual(
      leakers(
        [
          { name: 'leaks.ts', text: made },
          { name: 'cleans.ts', text: `${made}\nafter(() => rmSync(dir, { recursive: true, force: true }));` },
          { name: 'other.ts', text: 'const x = 1;' },
          { name: 'maker.ts', text: `export function makeIt() { ${made} return dir; }` },
          { name: 'caller.ts', text: 'const d = makeIt();' },
        ],
        { 'maker.ts': 'makeIt' },
      ),
      ['leaks.ts', 'caller.ts'],
    );
  });

  for (const file of ['test/core/broker-token-request.test.ts', 'test/core/config/gcp-checks.test.ts']) {
    test(`${file} leaves the temp directory as it found it`, () => {
      assert.deepEqual(leftBehind(file), []);
    });
  }
});
