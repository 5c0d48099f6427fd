/**
 * How the broker authenticates at its IdP's token endpoint (RFC 6749 §2.3.1,
 * RFC 7523): HTTP Basic, secret in the body, or a short-lived JWT assertion
 * signed with the broker's private key. Nothing here is ever logged.
 */
import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { systemError } from '../config/report.ts';
import type { BrokerIdpConfig } from '../config/schema.ts';

/** Headers and form fields that authenticate one token request. */
export interface ClientCredentials {
  headers: Record<string, string>;
  fields: Record<string, string>;
}

/** Produces the credentials for a request to `endpoint` (the assertion's audience). */
export type ClientAuthenticator = (endpoint: string) => Promise<ClientCredentials>;

/** Why the private key could not be used; the message names no key material. */
export class PrivateKeyError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'PrivateKeyError';
  }
}

/** Lifetime of a client assertion, seconds (RFC 7523 wants it short). */
export const ASSERTION_TTL = 60;

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 asks for Basic. */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

/** The `Authorization` value of client_secret_basic. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

/** The JWS algorithm for a private key: RS256 (RSA), ES256/ES384 (P-256/P-384), EdDSA (Ed25519). */
export function algorithmFor(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
  }
  throw new PrivateKeyError(`unsupported private key type for private_key_jwt: ${type ?? 'unknown'}`);
}

/**
 * Builds the authenticator for `idp.clientAuth`. Missing secret or key file
 * is a TypeError (library misuse). The key file (relative to `configDir`) is
 * read on first use and kept; a failed read is retried on the next request.
 */
export function createClientAuthenticator(
  idp: BrokerIdpConfig,
  options: { configDir: string; readFile: (path: string) => Promise<string>; now: () => number },
): ClientAuthenticator {
  const { clientId, clientSecret } = idp;
  switch (idp.clientAuth) {
    case 'client_secret_basic':
      if (!clientSecret) throw new TypeError('brokerIdp.clientSecret is required for client_secret_basic');
      return async () => ({
        headers: { authorization: basicAuthorization(clientId, clientSecret) },
        fields: {},
      });
    case 'client_secret_post':
      if (!clientSecret) throw new TypeError('brokerIdp.clientSecret is required for client_secret_post');
      return async () => ({ headers: {}, fields: { client_secret: clientSecret } });
    case 'private_key_jwt': {
      if (!idp.privateKeyFile)
        throw new TypeError('brokerIdp.privateKeyFile is required for private_key_jwt');
      const loadKey = keyLoader(resolve(options.configDir, idp.privateKeyFile), options.readFile);
      return async (endpoint) => {
        const assertion = await signAssertion(await loadKey(), clientId, endpoint, options.now());
        return {
          headers: {},
          fields: { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion },
        };
      };
    }
    default:
      throw new TypeError(`unknown brokerIdp.clientAuth: ${String(idp.clientAuth)}`);
  }
}

function keyLoader(path: string, readFile: (path: string) => Promise<string>): () => Promise<KeyObject> {
  let loaded: Promise<KeyObject> | undefined;
  return () => {
    loaded ??= readFile(path)
      .catch((err: unknown) => {
        throw new PrivateKeyError(`brokerIdp.privateKeyFile could not be read: ${systemError(err, path)}`, {
          cause: err,
        });
      })
      .then((pem) => {
        try {
          const key = createPrivateKey(pem);
          algorithmFor(key);
          return key;
        } catch (err) {
          if (err instanceof PrivateKeyError) throw err;
          throw new PrivateKeyError(`brokerIdp.privateKeyFile: ${path} is not a PEM private key`);
        }
      });
    loaded.catch(() => {
      loaded = undefined;
    });
    return loaded;
  };
}

/** A client assertion: iss = sub = client id, aud = token endpoint, random jti, ≤ 60 s. */
async function signAssertion(key: KeyObject, clientId: string, endpoint: string, nowMs: number) {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: algorithmFor(key), typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(endpoint)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_TTL)
    .sign(key);
}
