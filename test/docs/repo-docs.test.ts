/**
 * README.md and docs/ stay usable on their own: every relative link and
 * #anchor resolves inside the repository, nothing cites the specification
 * file kept outside it, no editing remark is left in the text, and shell
 * examples read the client token from $VOIDKEY_OIDC_TOKEN, the variable the
 * CLI reads.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function walk(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out.sort();
}

const MARKDOWN = [join(REPO, 'README.md'), ...walk(join(REPO, 'docs'), (p) => p.endsWith('.md'))];
const rel = (path: string) => relative(REPO, path);

/** The text with fenced code blocks and inline code blanked out (lines kept, for line numbers). */
export function prose(text: string, keepInlineCode = false): string {
  const lines = text.split('\n');
  let fence: string | undefined;
  return lines
    .map((line) => {
      const m = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence !== undefined) {
        if (m && (m[1] as string).startsWith(fence)) fence = undefined;
        return '';
      }
      if (m) {
        fence = m[1] as string;
        return '';
      }
      return keepInlineCode ? line : line.replace(/(`+)[\s\S]*?\1/g, '');
    })
    .join('\n');
}

/** The fenced code blocks of a Markdown text, joined. */
function codeBlocks(text: string): string {
  const all = text.split('\n');
  const proseLines = prose(text).split('\n');
  return all.filter((line, i) => proseLines[i] === '' && line.trim() !== '').join('\n');
}

export type Link = { target: string; line: number };

/** Inline links and images `[x](target)`, and reference definitions `[x]: target`. */
export function linksOf(text: string): Link[] {
  const links: Link[] = [];
  prose(text)
    .split('\n')
    .forEach((line, i) => {
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
        links.push({ target: m[1] as string, line: i + 1 });
      const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
      if (def) links.push({ target: def[1] as string, line: i + 1 });
    });
  return links;
}

/** GitHub's heading anchors: lower-cased, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(text, true).split('\n')) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = (h[1] as string)
        .replace(/<[^>]+>/g, '')
        .replace(/`/g, '')
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] as string);
  }
  return anchors;
}

/** Problems with the relative links of one Markdown file: missing files, missing anchors. */
export function brokenLinks(file: string, text: string): string[] {
  const problems: string[] = [];
  for (const { target, line } of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and the like
    const hash = target.indexOf('#');
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const where = `${rel(file)}:${line}: ${target}`;
    const resolved = pathPart === '' ? file : join(pathPart.startsWith('/') ? REPO : dirname(file), pathPart);
    if (!rel(resolved) || rel(resolved).startsWith('..')) {
      problems.push(`${where} points outside the repository`);
      continue;
    }
    if (pathPart !== '' && !existsSync(resolved)) {
      problems.push(`${where} names a file that does not exist`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!resolved.endsWith('.md') || (pathPart !== '' && statSync(resolved).isDirectory())) continue;
    const anchors = anchorsOf(resolved === file ? text : readFileSync(resolved, 'utf8'));
    if (!anchors.has(anchor)) problems.push(`${where} names an anchor that ${rel(resolved)} does not have`);
  }
  return problems;
}

describe('README.md and docs/', () => {
  test('finds the files it checks', () => {
    assert.ok(MARKDOWN.length >= 10, MARKDOWN.map(rel).join(', '));
  });

  test('have no relative link to a missing file or heading', () => {
    const problems = MARKDOWN.flatMap((f) => brokenLinks(f, readFileSync(f, 'utf8')));
    assert.deepEqual(problems, []);
  });

  test('link checking catches a missing file, a missing anchor and a link out of the repository', () => {
    const file = join(REPO, 'docs', 'probe.md');
    const text = [
      '# Probe',
      '## A `code` heading, twice',
      '## A `code` heading, twice',
      'Fine: [a](#probe), [b](#a-code-heading-twice-1), [c](errors.md#codes), [d](../README.md),',
      '[e](https://example.com/x#y), `[f](nowhere.md)`.',
      'Broken: [g](nowhere.md), [h](errors.md#no-such-heading), [i](../../outside.md), [j](#gone).',
      '[k]: ./missing-too.md',
      '```',
      '[l](in-a-code-block.md)',
      '```',
    ].join('\n');
    const problems = brokenLinks(file, text);
    assert.equal(problems.length, 5, problems.join('\n'));
    for (const t of [
      'nowhere.md',
      'errors.md#no-such-heading',
      '../../outside.md',
      '#gone',
      './missing-too.md',
    ])
      assert.ok(
        problems.some((p) => p.includes(`: ${t} `)),
        t,
      );
  });

  test('cite no file outside the repository (no SPEC, no ../shared), in src/ as well', () => {
    const files = [...MARKDOWN, ...walk(join(REPO, 'src'), () => true)];
    const hits: string[] = [];
    for (const f of files) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\bSPEC\b|\.\.\/shared\b|shared\/SPEC/.test(line))
            hits.push(`${rel(f)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });

  test('carry no editing remarks', () => {
    const remark =
      /<!--|\bTODO\b|\bFIXME\b|\bTBD\b|\bXXX\b|\((?:new|changed|updated|edited|moved)\)|\b(?:NEW|UPDATED|CHANGED|EDITED):/i;
    const hits: string[] = [];
    for (const f of MARKDOWN) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (remark.test(line)) hits.push(`${rel(f)}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });

  test('use $VOIDKEY_OIDC_TOKEN for the client token in shell examples', () => {
    const hits: string[] = [];
    for (const f of MARKDOWN) {
      const code = codeBlocks(readFileSync(f, 'utf8'));
      for (const m of code.matchAll(/Bearer \$\{?(\w+)|\$\{?((?:\w*_)?(?:OIDC|ID|JWT)_?TOKEN)\b/g)) {
        const name = m[1] ?? m[2];
        if (name !== 'VOIDKEY_OIDC_TOKEN' && name !== 'ACTIONS_ID_TOKEN_REQUEST_TOKEN')
          hits.push(`${rel(f)}: $${name}`);
      }
    }
    assert.deepEqual(hits, []);
  });
});
