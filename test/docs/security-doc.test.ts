/**
 * docs/security.md cannot rot: every threat the model must cover has a
 * section with at least one proof, and every proof names a test file that
 * exists and holds a test of exactly that name.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

const root = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/security.md', root), 'utf8');

/** Threats the model must cover (the hostile-input issue's list). */
const REQUIRED_THREATS = [
  'Token theft and replay',
  'Identity spoofing',
  'Issuer confusion',
  'Algorithm confusion',
  'Key-set poisoning',
  'Privilege escalation',
  'Broker compromise',
  'Config tampering',
  'Denial of service',
];

const PROOF = /`(test\/[\w./-]+\.test\.ts)` › “([^”]+)”/g;

/** `### Heading` → its text, under `## Threats and controls`. */
function threatSections(): Map<string, string> {
  const start = doc.indexOf('\n## Threats and controls\n');
  assert.ok(start >= 0, 'no "Threats and controls" section');
  const rest = doc.slice(start + 1);
  const end = rest.indexOf('\n## ', 1);
  const body = end < 0 ? rest : rest.slice(0, end);
  const sections = new Map<string, string>();
  for (const part of body.split('\n### ').slice(1)) {
    const newline = part.indexOf('\n');
    sections.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return sections;
}

/** True when `source` holds `title` as a string literal (a test or it name). */
function holdsTitle(source: string, title: string): boolean {
  return ["'", '"', '`'].some((quote) => source.includes(`${quote}${title}${quote}`));
}

describe('docs/security.md', () => {
  test('covers every required threat, each with controls and at least one proof', () => {
    const sections = threatSections();
    for (const threat of REQUIRED_THREATS) {
      const text = sections.get(threat);
      assert.ok(text !== undefined, `no section for ${threat}`);
      assert.match(text, /\nControls:\n/, `${threat} lists no controls`);
      assert.ok([...text.matchAll(PROOF)].length > 0, `${threat} names no proving test`);
    }
  });

  test('names only test files that exist and test names they hold', () => {
    const proofs = [...doc.matchAll(PROOF)];
    assert.ok(proofs.length >= 60, `${proofs.length} proofs`);
    const missing: string[] = [];
    for (const { 1: file = '', 2: title = '' } of proofs) {
      const url = new URL(file, root);
      if (!existsSync(url)) missing.push(`${file} does not exist`);
      else if (!holdsTitle(readFileSync(url, 'utf8'), title)) missing.push(`${file} has no test “${title}”`);
    }
    assert.deepEqual(missing, []);
  });

  test('names every test file of the hostile-input work at least once', () => {
    const files = new Set([...doc.matchAll(PROOF)].map((m) => m[1]));
    for (const file of [
      'test/core/token/hostile-tokens.test.ts',
      'test/core/token/hostile-claims.test.ts',
      'test/core/token/preparse.property.test.ts',
      'test/core/config/loader.property.test.ts',
      'test/server/limits.test.ts',
      'test/server/fuzz.test.ts',
      'test/server/abuse.test.ts',
      'test/providers/concurrency.test.ts',
    ]) {
      assert.ok(files.has(file), `${file} proves nothing in the doc`);
    }
  });
});
