/**
 * `server.trustProxy` as fastify needs it. A hop count is turned into a
 * trust function here because fastify (5.12+) no longer honours a number: it
 * fails closed, so `trustProxy: 1` — the deployment guide's setting behind
 * one proxy — would silently key rate limits and audit events on the
 * proxy's address. A hop count trusts exactly that many addresses counted
 * from the socket; it is safe only when clients cannot bypass the proxies
 * (docs/deployment.md: the NetworkPolicy admits only the ingress).
 */

/** What fastify's `trustProxy` option takes. */
export type TrustProxyOption = boolean | string[] | ((address: string, hop: number) => boolean);

/** `false` | hop count | CIDR list (config) → fastify's option; 0 hops is false. */
export function trustProxyOption(value: false | number | readonly string[]): TrustProxyOption {
  if (typeof value === 'number') return value <= 0 ? false : (_address, hop) => hop < value;
  return value === false ? false : [...value];
}
