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

function checkServer(server: Loose, report: Report): void {
  const trust = server.trustProxy;
  if (Array.isArray(trust)) {
    for (const [i, entry] of trust.entries()) {
      const s = str(entry);
      if (s !== undefined && !isAddressOrCidr(s)) {
        report.error(['server', 'trustProxy', i], 'must be an IP address or CIDR (e.g. 10.0.0.0/8)');
      }
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
