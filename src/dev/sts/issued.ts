/**
 * Credentials the development STS has issued, so AssumeRole can check the
 * SigV4 signature of a caller against them. Bounded: the oldest go first.
 */
import { randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { SigningKey } from './sigv4.ts';
import type { AssumedRole, IssuedCredentials } from './xml.ts';

/** Who asks for a role: the web identity's subject and claims (the chain's origin for AssumeRole). */
export interface StsCaller {
  sub: string;
  claims: JWTPayload;
}

/** An issued key and the session it belongs to. */
export interface IssuedSession extends SigningKey {
  role: AssumedRole;
  /** The web identity the chain started from. */
  caller: StsCaller;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `ASIA` + 16 base-32 characters, like AWS temporary access key ids. */
export function accessKeyId(): string {
  const bytes = randomBytes(16);
  let out = 'ASIA';
  for (const byte of bytes) out += BASE32[byte % 32];
  return out;
}

/** A store of issued sessions holding at most `max` entries. */
export function createIssuedStore(max: number) {
  const sessions = new Map<string, IssuedSession>();
  return {
    issue(role: AssumedRole, caller: StsCaller, durationSeconds: number, now: number): IssuedCredentials {
      const credentials: IssuedCredentials = {
        accessKeyId: accessKeyId(),
        secretAccessKey: randomBytes(30).toString('base64'),
        sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
        expiresAt: now + durationSeconds * 1000,
      };
      if (sessions.size >= max) sessions.delete(sessions.keys().next().value as string);
      sessions.set(credentials.accessKeyId, {
        ...credentials,
        role,
        caller: { sub: caller.sub, claims: caller.claims },
      });
      return credentials;
    },
    get: (id: string): IssuedSession | undefined => sessions.get(id),
  };
}
