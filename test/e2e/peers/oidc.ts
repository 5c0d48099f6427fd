/**
 * A real OpenID Provider (node-oidc-provider v9) for end-to-end tests: it
 * issues JWT access tokens through the client-credentials grant with resource
 * indicators, so `aud` is the requested `resource` and `sub` is the client id.
 * A thin node:http wrapper counts requests by path and can take the JWKS
 * endpoint down, which is how tests observe the broker's caches.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { detachKeyPair } from '../../../src/dev/keys.ts';

/** One OP client: a workload identity (its id is the token's `sub`) or the broker. */
export interface OidcClientSpec {
  clientId: string;
  /** Generated (random) when omitted and the method needs one. */
  clientSecret?: string;
  /** Default `client_secret_post`. */
  auth?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** Public JWKS for `private_key_jwt`. */
  jwks?: { keys: Record<string, unknown>[] };
}

/** Test-only knobs applied to one issued token by the JWT customizer (never sent by the broker). */
export interface TokenTweaks {
  /** Absolute-URI audience; default the OP's `defaultResource`. */
  resource?: string;
  /** Seconds added to `iat` and `exp` (negative: already expired). */
  shift?: number;
  /** Seconds from `iat` to `exp`; default 300. */
  lifetime?: number;
  /** Claimed `iss` (a token signed by this OP pretending to be another). */
  iss?: string;
  /** Claims set on the token (e.g. a GitHub- or Kubernetes-shaped set, `sub` included); `iss`, `aud` and times are kept. */
  claims?: Record<string, unknown>;
}

/** A running OP and what tests read from it. */
export interface OidcPeer {
  issuer: string;
  /** JWKS URI the broker discovers; `jwksUriFor(tag)` gives a separately counted alias. */
  jwksUri: string;
  tokenEndpoint: string;
  jwksUriFor(tag: string): string;
  /** Requests to the JWKS endpoint by tag ('' for the untagged URI), including refused ones. */
  jwksHits(tag?: string): number;
  /** Requests to `/token` and discovery, whatever their outcome. */
  readonly counts: { token: number; discovery: number };
  /** Tokens issued to `clientId` (successful grants). */
  issued(clientId: string): number;
  /** While on, the untagged JWKS URI answers 503 (tagged aliases keep working). */
  setJwksOutage(on: boolean): void;
  secretOf(clientId: string): string;
  /** A fresh workload token for a `client_secret_post` client (the default), 300 s lifetime unless tweaked. */
  clientToken(clientId: string, tweaks?: TokenTweaks): Promise<string>;
  close(): Promise<void>;
}

/** Options of `startOidcProvider`; `defaultResource` is the audience of `clientToken()`. */
export interface OidcPeerOptions {
  clients: OidcClientSpec[];
  defaultResource: string;
  /** `kid` of the OP's one RS256 signing key; default random. */
  kid?: string;
}

const DEFAULT_LIFETIME = 300;

function signingJwks(kid: string): { keys: Record<string, unknown>[] } {
  const { privateKey } = detachKeyPair(generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const jwk = privateKey.export({ format: 'jwk' }) as Record<string, unknown>;
  return { keys: [{ ...jwk, kid, use: 'sig', alg: 'RS256' }] };
}

function clientMetadata(spec: OidcClientSpec, secret: string): Record<string, unknown> {
  const auth = spec.auth ?? 'client_secret_post';
  return {
    client_id: spec.clientId,
    ...(auth === 'private_key_jwt' ? { jwks: spec.jwks } : { client_secret: secret }),
    token_endpoint_auth_method: auth,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
}

/** Reads the test-only `e2e_*` form fields and rewrites the token's claims accordingly. */
function applyTweaks(body: Record<string, unknown> | undefined, payload: Record<string, unknown>): void {
  const num = (v: unknown) => (typeof v === 'string' && v !== '' ? Number(v) : undefined);
  const shift = num(body?.e2e_shift) ?? 0;
  const lifetime = num(body?.e2e_lifetime);
  const iat = (payload.iat as number) + shift;
  payload.iat = iat;
  payload.exp = lifetime === undefined ? (payload.exp as number) + shift : iat + lifetime;
  if (typeof body?.e2e_iss === 'string') payload.iss = body.e2e_iss;
  if (typeof body?.e2e_claims === 'string') {
    const { iss: _i, aud: _a, iat: _t, nbf: _n, exp: _e, ...claims } = JSON.parse(body.e2e_claims);
    Object.assign(payload, claims);
  }
}

/** An in-memory store for one OP; explicit so the OP does not warn about its default one. */
function memoryAdapter() {
  const store = new Map<string, unknown>();
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: unknown): Promise<void> {
      store.set(`${this.model}:${id}`, payload);
    }
    async find(id: string): Promise<unknown> {
      return store.get(`${this.model}:${id}`);
    }
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }
    async findByUid(): Promise<undefined> {
      return undefined;
    }
    async consume(): Promise<void> {}
    async destroy(id: string): Promise<void> {
      store.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId(): Promise<void> {}
  };
}

function buildProvider(issuer: string, options: OidcPeerOptions, secrets: Map<string, string>): Provider {
  return new Provider(issuer, {
    clients: options.clients.map((c) => clientMetadata(c, secrets.get(c.clientId) ?? '')),
    jwks: signingJwks(options.kid ?? `kid-${randomBytes(4).toString('hex')}`),
    adapter: memoryAdapter(),
    ttl: { ClientCredentials: DEFAULT_LIFETIME },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.defaultResource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          audience: resource,
          scope: 'sts',
          accessTokenTTL: DEFAULT_LIFETIME,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    formats: {
      customizers: {
        jwt: async (ctx, _token, jwt) => {
          applyTweaks(ctx.oidc.body as Record<string, unknown> | undefined, jwt.payload);
        },
      },
    },
    findAccount: () => undefined,
  });
}

/** Starts an OP on 127.0.0.1:0 over http; every client without a secret gets a random one. */
export async function startOidcProvider(options: OidcPeerOptions): Promise<OidcPeer> {
  const secrets = new Map<string, string>();
  for (const c of options.clients) {
    secrets.set(c.clientId, c.clientSecret ?? `sec-${randomBytes(18).toString('base64url')}`);
  }
  const jwksCounts = new Map<string, number>();
  const counts = { token: 0, discovery: 0 };
  const issuedCounts = new Map<string, number>();
  let outage = false;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://peer');
    if (url.pathname === '/jwks') {
      const tag = url.searchParams.get('peer') ?? '';
      jwksCounts.set(tag, (jwksCounts.get(tag) ?? 0) + 1);
      if (outage && tag === '') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('jwks down');
        return;
      }
    } else if (url.pathname === '/token') counts.token += 1;
    else if (url.pathname === '/.well-known/openid-configuration') counts.discovery += 1;
    handler?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = buildProvider(issuer, options, secrets);
  provider.on('grant.success', (ctx) => {
    const id = ctx.oidc.client?.clientId ?? '';
    issuedCounts.set(id, (issuedCounts.get(id) ?? 0) + 1);
  });
  handler = provider.callback();

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    jwksUriFor: (tag) => `${issuer}/jwks?peer=${encodeURIComponent(tag)}`,
    jwksHits: (tag = '') => jwksCounts.get(tag) ?? 0,
    counts,
    issued: (clientId) => issuedCounts.get(clientId) ?? 0,
    setJwksOutage: (on) => {
      outage = on;
    },
    secretOf: (clientId) => {
      const s = secrets.get(clientId);
      if (s === undefined) throw new TypeError(`no such OP client: ${clientId}`);
      return s;
    },
    clientToken: (clientId, tweaks = {}) => requestToken(`${issuer}/token`, clientId, secrets, tweaks),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function requestToken(
  endpoint: string,
  clientId: string,
  secrets: Map<string, string>,
  tweaks: TokenTweaks,
): Promise<string> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId });
  form.set('client_secret', secrets.get(clientId) ?? '');
  if (tweaks.resource !== undefined) form.set('resource', tweaks.resource);
  if (tweaks.shift !== undefined) form.set('e2e_shift', String(tweaks.shift));
  if (tweaks.lifetime !== undefined) form.set('e2e_lifetime', String(tweaks.lifetime));
  if (tweaks.iss !== undefined) form.set('e2e_iss', tweaks.iss);
  if (tweaks.claims !== undefined) form.set('e2e_claims', JSON.stringify(tweaks.claims));
  const res = await fetch(endpoint, { method: 'POST', body: form });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (res.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`OP refused a token for ${clientId}: ${res.status} ${body.error ?? ''}`);
  }
  return body.access_token;
}
