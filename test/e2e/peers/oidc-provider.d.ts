/**
 * The slice of node-oidc-provider v9 the e2e OP uses. The package ships no
 * types and @types/oidc-provider is not a dependency, so this declares only
 * what test/e2e/peers/oidc.ts touches.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface OidcContext {
    oidc: { body?: Record<string, unknown>; client?: { clientId: string } };
  }

  interface ResourceServer {
    audience: string;
    scope: string;
    accessTokenTTL?: number;
    accessTokenFormat: 'jwt' | 'opaque';
    jwt?: { sign?: { alg: string } };
  }

  interface Configuration {
    clients: Record<string, unknown>[];
    jwks: { keys: Record<string, unknown>[] };
    adapter: new (model: string) => unknown;
    ttl: Record<string, number>;
    cookies: { keys: string[] };
    features: {
      devInteractions: { enabled: boolean };
      clientCredentials: { enabled: boolean };
      introspection: { enabled: boolean };
      revocation: { enabled: boolean };
      resourceIndicators: {
        enabled: boolean;
        defaultResource: (ctx: OidcContext) => string;
        useGrantedResource: () => boolean;
        getResourceServerInfo: (ctx: OidcContext, resource: string) => ResourceServer;
      };
    };
    formats: {
      customizers: {
        jwt: (
          ctx: OidcContext,
          token: unknown,
          jwt: { header?: Record<string, unknown>; payload: Record<string, unknown> },
        ) => Promise<void>;
      };
    };
    findAccount: () => undefined;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    on(event: 'grant.success', listener: (ctx: OidcContext) => void): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}
