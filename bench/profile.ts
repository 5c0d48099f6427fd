/**
 * Reading a V8 `.cpuprofile` (node --cpu-prof): self time per function, and
 * self and inclusive time per package (a sample counts towards every package
 * on its stack for inclusive time), both as shares of the busy (non-idle) time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Options of {@link summarizeProfile}. */
export interface SummaryOptions {
  /** Functions listed (default 25). */
  limit?: number;
  /** Only samples taken in this span of the monotonic clock, µs (process.hrtime.bigint() / 1000). */
  window?: { startUs: number; endUs: number };
  /** Answers served in the window: adds µs per request to every row. */
  requests?: number;
}

/** One row of a breakdown: share of busy time, in percent. */
export interface ProfileRow {
  name: string;
  selfPct: number;
  inclusivePct?: number;
  /** CPU µs per answered request (self, and inclusive for packages). */
  selfUsPerRequest?: number;
  inclusiveUsPerRequest?: number;
}

/** What {@link summarizeProfile} reports. */
export interface ProfileSummary {
  samples: number;
  busyMs: number;
  idlePct: number;
  /** Busy CPU µs per answered request, when requests were given. */
  usPerRequest?: number;
  topFunctions: ProfileRow[];
  packages: ProfileRow[];
}

/** The package or layer a frame belongs to. */
export function categoryOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg.startsWith('@smithy/') || pkg.startsWith('@aws-') ? 'AWS SDK (@aws-sdk, @smithy)' : pkg;
  const own = /\/(dist|src|bench)\/(.+?)(?:\/[^/]+)?\.[jt]s$/.exec(url);
  if (own) return `voidkey ${own[1]}/${own[2]}`;
  return url;
}

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file ? `${file}:${lineNumber + 1}` : ''}`.trim();
}

const IDLE = new Set(['(idle)', '(root)']);

/** Self µs per profile node, only for samples inside `window`. */
function selfTimes(profile: CpuProfile, window: SummaryOptions['window']): Map<number, number> {
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window.startUs || at > window.endUs)) return;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  });
  return selfUs;
}

/** Top functions by self time and every package by self and inclusive time. */
export function summarizeProfile(path: string, options: SummaryOptions = {}): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const selfUs = selfTimes(profile, options.window);
  let idleUs = 0;
  let busyUs = 0;
  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgIncl = new Map<string, number>();
  const stackCategories = new Map<number, Set<string>>();
  const categoriesOf = (id: number): Set<string> => {
    const known = stackCategories.get(id);
    if (known) return known;
    const node = byId.get(id) as ProfileNode;
    const up = parent.has(id) ? categoriesOf(parent.get(id) as number) : new Set<string>();
    const set = new Set(up).add(categoryOf(node.callFrame.url, node.callFrame.functionName));
    stackCategories.set(id, set);
    return set;
  };
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const category = categoryOf(node.callFrame.url, node.callFrame.functionName);
    if (IDLE.has(category)) {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name = frameName(node);
    fnSelf.set(name, (fnSelf.get(name) ?? 0) + us);
    pkgSelf.set(category, (pkgSelf.get(category) ?? 0) + us);
    for (const c of categoriesOf(id)) if (!IDLE.has(c)) pkgIncl.set(c, (pkgIncl.get(c) ?? 0) + us);
  }
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  const per = (us: number) => (options.requests ? { usPerRequest: us / options.requests } : {});
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const requests = options.requests;
  return {
    samples: profile.samples.length,
    busyMs: busyUs / 1000,
    idlePct: (100 * idleUs) / Math.max(1, idleUs + busyUs),
    ...per(busyUs),
    topFunctions: sorted(fnSelf)
      .slice(0, options.limit ?? 25)
      .map(([name, us]) => ({
        name,
        selfPct: pct(us),
        ...(requests ? { selfUsPerRequest: us / requests } : {}),
      })),
    packages: sorted(pkgIncl).map(([name, us]) => {
      const self = pkgSelf.get(name) ?? 0;
      const perRequest = requests
        ? { selfUsPerRequest: self / requests, inclusiveUsPerRequest: us / requests }
        : {};
      return { name, selfPct: pct(self), inclusivePct: pct(us), ...perRequest };
    }),
  };
}

const us = (n: number | undefined) => (n === undefined ? '' : n.toFixed(1));

/** Markdown tables of a summary (with µs per request when known). */
export function profileTables(summary: ProfileSummary): string {
  const fns = summary.topFunctions.map(
    (r) => `| ${r.selfPct.toFixed(1)} | ${us(r.selfUsPerRequest)} | \`${r.name.replace(/\|/g, '\\|')}\` |`,
  );
  const pkgs = summary.packages
    .filter((r) => (r.inclusivePct ?? 0) >= 0.5)
    .map(
      (r) =>
        `| ${r.name} | ${r.selfPct.toFixed(1)} | ${(r.inclusivePct ?? 0).toFixed(1)} | ${us(r.selfUsPerRequest)} | ${us(r.inclusiveUsPerRequest)} |`,
    );
  return [
    `Busy ${summary.busyMs.toFixed(0)} ms over ${summary.samples} samples (idle ${summary.idlePct.toFixed(1)}%)` +
      (summary.usPerRequest === undefined
        ? '.'
        : `, ${summary.usPerRequest.toFixed(0)} µs of CPU per request.`),
    '',
    '| self % | self µs/req | function |',
    '|---|---|---|',
    ...fns,
    '',
    '| package / layer | self % | inclusive % | self µs/req | inclusive µs/req |',
    '|---|---|---|---|---|',
    ...pkgs,
  ].join('\n');
}

/** Per package: self µs per request in the broker and in the floor, largest difference first. */
export function comparisonTable(broker: ProfileSummary, floor: ProfileSummary): string {
  const names = new Set([...broker.packages, ...floor.packages].map((r) => r.name));
  const self = (s: ProfileSummary, name: string) =>
    s.packages.find((r) => r.name === name)?.selfUsPerRequest ?? 0;
  const rows = [...names]
    .map((name) => ({ name, b: self(broker, name), f: self(floor, name) }))
    .filter((r) => r.b >= 1 || r.f >= 1)
    .sort((x, y) => y.b - y.f - (x.b - x.f))
    .map((r) => `| ${r.name} | ${r.b.toFixed(1)} | ${r.f.toFixed(1)} | ${(r.b - r.f).toFixed(1)} |`);
  return [
    `Total: broker ${us(broker.usPerRequest)} µs/req, floor ${us(floor.usPerRequest)} µs/req.`,
    '',
    '| package / layer | broker self µs/req | floor self µs/req | difference |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Functions whose self µs per request grew most from floor to broker (summaries made with a large limit). */
export function functionComparisonTable(broker: ProfileSummary, floor: ProfileSummary, limit = 30): string {
  const floorSelf = new Map(floor.topFunctions.map((r) => [r.name, r.selfUsPerRequest ?? 0]));
  const rows = broker.topFunctions
    .map((r) => ({ name: r.name, b: r.selfUsPerRequest ?? 0, f: floorSelf.get(r.name) ?? 0 }))
    .sort((x, y) => y.b - y.f - (x.b - x.f))
    .slice(0, limit)
    .map(
      (r) =>
        `| ${(r.b - r.f).toFixed(1)} | ${r.b.toFixed(1)} | ${r.f.toFixed(1)} | \`${r.name.replace(/\|/g, '\\|')}\` |`,
    );
  return ['| difference µs/req | broker | floor | function |', '|---|---|---|---|', ...rows].join('\n');
}
