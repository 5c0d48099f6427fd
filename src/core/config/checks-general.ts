/** Cross-checks of `server`, `brokerIdp`, `clientIdps`, `logging` and `redis`. */
import { isIP } from 'node:net';
import { checkUnique, checkUrl, entries, type Loose, map, str } from './checks-common.ts';
import type { Report } from './report.ts';
import { parseSize } from './size.ts';

/** Names proxy-addr (fastify's `trustProxy`) accepts besides addresses and CIDRs. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(value: string): boolean {
  if (PROXY_NAMES.has(value) || isIP(value) !== 0) return true;
  const [addr, prefix, extra] = value.split('/');
  if (extra !== undefined || addr === undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix))
    return false;
  const family = isIP(addr);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Bits of an address as a number, and its width; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as IPv4. */
function addressBits(addr: string): { value: bigint; width: 32 | 128 } {
  if (isIP(addr) === 4) {
    return { value: addr.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n), width: 32 };
  }
  const [head = '', tail = ''] = addr.split('::') as [string, string?];
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const expand = (parts: string[]) =>
    parts.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const v4 = addressBits(g).value;
      return [(v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16)];
    });
  const left = expand(groups(head));
  const right = expand(groups(tail));
  const all = addr.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return { value: all.reduce((n, g) => (n << 16n) | BigInt(Number.parseInt(g, 16)), 0n), width: 128 };
}

const MAPPED_V4 = 0xffffn << 32n;

/**
 * True when the addresses and CIDRs of `list` together cover every IPv4 or
 * every IPv6 address (`0.0.0.0/0`, `::/0`, or complementary halves such as
 * `0.0.0.0/1` + `128.0.0.0/1`): such a list trusts any client, like `true`.
 */
export function trustsEveryone(list: readonly string[]): boolean {
  const ranges: Record<32 | 128, [bigint, bigint][]> = { 32: [], 128: [] };
  for (const entry of list) {
    if (PROXY_NAMES.has(entry) || !isAddressOrCidr(entry)) continue;
    const [addr = '', prefixText] = entry.split('/');
    const { value, width } = addressBits(addr);
    const prefix = BigInt(prefixText === undefined ? width : Number(prefixText));
    const size = 1n << (BigInt(width) - prefix);
    const start = value - (value % size);
    ranges[width].push([start, start + size - 1n]);
    // An IPv4-mapped IPv6 range also covers the IPv4 clients it maps.
    if (width === 128 && start >> 32n === 0xffffn && start + size - 1n <= (MAPPED_V4 | 0xffffffffn)) {
      ranges[32].push([start - MAPPED_V4, start + size - 1n - MAPPED_V4]);
    } else if (width === 128 && start <= MAPPED_V4 && start + size - 1n >= (MAPPED_V4 | 0xffffffffn)) {
      ranges[32].push([0n, 0xffffffffn]);
    }
  }
  const covers = (list: [bigint, bigint][], width: number): boolean => {
    let next = 0n;
    for (const [start, end] of list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      if (start > next) return false;
      if (end + 1n > next) next = end + 1n;
    }
    return next >= 1n << BigInt(width);
  };
  return covers(ranges[32], 32) || covers(ranges[128], 128);
}

function checkServer(server: Loose, report: Report): void {
  const trust = server.trustProxy;
  if (Array.isArray(trust)) {
    let valid = true;
    for (const [i, entry] of trust.entries()) {
      const s = str(entry);
      if (s !== undefined && !isAddressOrCidr(s)) {
        valid = false;
        report.error(['server', 'trustProxy', i], 'must be an IP address or CIDR (e.g. 10.0.0.0/8)');
      }
    }
    if (valid && trustsEveryone(trust.filter((e): e is string => typeof e === 'string'))) {
      report.error(
        ['server', 'trustProxy'],
        'this list trusts every address, which is refused like `true`: anyone could choose their IP ' +
          "address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
      );
    }
  }
  const origins = map(server.cors).origins;
  for (const [i, origin] of (Array.isArray(origins) ? origins : []).entries()) {
    const s = str(origin);
    if (s === undefined) continue;
    if (s === '*') {
      report.error(['server', 'cors', 'origins', i], '"*" is refused: list each exact origin');
    } else if (!isOrigin(s)) {
      report.error(
        ['server', 'cors', 'origins', i],
        'must be an exact origin: scheme, host and optional port, no path (https://app.example.com)',
      );
    }
  }
  if (server.allowInsecureIssuers === true) {
    report.warn(
      ['server', 'allowInsecureIssuers'],
      'http:// issuers and endpoints are permitted: development only, never in production',
    );
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/** An issuer is compared exactly, and almost none ends with `/`: a slash there is usually a typo. */
function warnTrailingSlash(path: (string | number)[], issuer: unknown, report: Report): void {
  if (typeof issuer === 'string' && issuer.length > 1 && issuer.endsWith('/')) {
    report.warn(
      path,
      'ends with "/": issuers are compared exactly and few have a trailing slash; ' +
        'use the `issuer` of its discovery document (`voidkey config validate --check-connectivity` shows it when they differ)',
    );
  }
}

function checkBrokerIdp(broker: Loose, insecureOk: boolean, report: Report): void {
  checkUrl(report, ['brokerIdp', 'issuer'], broker.issuer, { insecureOk, issuer: true });
  warnTrailingSlash(['brokerIdp', 'issuer'], broker.issuer, report);
  checkUrl(report, ['brokerIdp', 'tokenEndpoint'], broker.tokenEndpoint, { insecureOk });
  const auth = broker.clientAuth;
  if (
    (auth === 'client_secret_basic' || auth === 'client_secret_post') &&
    broker.clientSecret === undefined
  ) {
    report.error(['brokerIdp', 'clientSecret'], `required when clientAuth is ${auth}`);
  }
  if (auth === 'private_key_jwt' && broker.privateKeyFile === undefined) {
    report.error(['brokerIdp', 'privateKeyFile'], 'required when clientAuth is private_key_jwt');
  }
}

function checkClientIdps(list: unknown, insecureOk: boolean, report: Report): void {
  const idps = entries(list);
  checkUnique(report, 'clientIdps', idps, 'name', (i) => `duplicate name: also used by clientIdps[${i}]`);
  checkUnique(
    report,
    'clientIdps',
    idps,
    'issuer',
    (i) => `same issuer as clientIdps[${i}]: configure each issuer once`,
  );
  for (const [i, idp] of idps) {
    checkUrl(report, ['clientIdps', i, 'issuer'], idp.issuer, { insecureOk, issuer: true });
    warnTrailingSlash(['clientIdps', i, 'issuer'], idp.issuer, report);
    checkUrl(report, ['clientIdps', i, 'jwksUri'], idp.jwksUri, { insecureOk });
    if (idp.allowAnyAudience === true) {
      report.warn(
        ['clientIdps', i, 'allowAnyAudience'],
        'any audience is accepted: a token this IdP issued for another service can be replayed here',
      );
    } else if (idp.audience === undefined) {
      report.error(
        ['clientIdps', i, 'audience'],
        'required: the audience(s) a token must carry (only `allowAnyAudience: true` may omit it)',
      );
    }
  }
}

function checkOthers(config: Loose, report: Report): void {
  const maxSize = map(map(config.logging).audit).maxSize;
  if ((typeof maxSize === 'string' || typeof maxSize === 'number') && parseSize(maxSize) === undefined) {
    report.error(
      ['logging', 'audit', 'maxSize'],
      'must be a size like 100MB (units B, KB, MB, GB, KiB, MiB, GiB; all binary) or a byte count',
    );
  }
  if (config.redis !== undefined) checkRedis(map(config.redis), report);
}

const TOPOLOGIES = ['url', 'sentinels', 'cluster'] as const;

/** One topology, its companions, and `host:port` lists. */
function checkRedis(redis: Loose, report: Report): void {
  const chosen = TOPOLOGIES.filter((field) => redis[field] !== undefined);
  if (chosen.length === 0) {
    report.error(['redis'], 'set one of `url` (standalone), `sentinels` (with `name`) or `cluster`');
  } else if (chosen.length > 1) {
    report.error(
      ['redis', chosen[1] as string],
      `set only one of ${chosen.map((f) => `\`${f}\``).join(', ')}`,
    );
  }
  const url = str(redis.url);
  if (url !== undefined) {
    let protocol = '';
    try {
      protocol = new URL(url).protocol;
    } catch {}
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      report.error(['redis', 'url'], 'must be a redis:// or rediss:// URL');
    }
  }
  for (const field of ['sentinels', 'cluster'] as const) {
    const list = redis[field];
    for (const [i, entry] of (Array.isArray(list) ? list : []).entries()) {
      const s = str(entry);
      if (s !== undefined && parseHostPort(s) === undefined) {
        report.error(['redis', field, i], 'must be host:port (e.g. 10.0.0.1:26379, [::1]:6379)');
      }
    }
  }
  if (redis.sentinels !== undefined && redis.name === undefined) {
    report.error(['redis', 'name'], "required with `sentinels`: the primary's name as the Sentinels know it");
  }
  for (const field of ['name', 'sentinelPassword'] as const) {
    if (redis[field] !== undefined && redis.sentinels === undefined) {
      report.error(['redis', field], 'only with `sentinels`');
    }
  }
  const tls = map(redis.tls);
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    report.error(['redis', 'tls', tls.cert === undefined ? 'cert' : 'key'], 'set `cert` and `key` together');
  }
}

/** `host:port` (an IPv6 host in brackets) → its parts; undefined when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** A config whose identities hold no key at all loads, but refuses every mint. */
function warnNothingGranted(config: Loose, report: Report): void {
  const granted = entries(config.clientIdentities).some(([, identity]) => {
    const keys = identity.keys;
    if (Array.isArray(identity.grants) && identity.grants.length > 0) return true;
    return typeof keys === 'object' && keys !== null && Object.keys(keys).length > 0;
  });
  if (!granted) {
    report.warn(['clientIdentities'], 'no identity is granted any key, so every mint will be refused');
  }
}

/** Checks everything but providers and identities. */
export function checkGeneral(config: Loose, report: Report): void {
  const server = map(config.server);
  const insecureOk = server.allowInsecureIssuers === true;
  checkServer(server, report);
  if (config.brokerIdp !== undefined) checkBrokerIdp(map(config.brokerIdp), insecureOk, report);
  checkClientIdps(config.clientIdps, insecureOk, report);
  checkOthers(config, report);
  warnNothingGranted(config, report);
}
