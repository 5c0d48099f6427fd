/**
 * Native HTTPS (`server.tls`): PEM certificate chain and key read from
 * files (relative to the config file), TLS 1.2 at least, and a new
 * certificate swapped in on SIGHUP without dropping a connection. A pair
 * that does not load (missing file, key not matching) is refused before
 * anything changes.
 */
import { readFile } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';

/** Lowest TLS version served. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** A certificate chain and its private key, PEM. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads and checks `tls` (paths relative to `configDir`). Throws an Error
 * naming the field (never the key's content) when a file is unreadable or
 * the pair does not form a usable context.
 */
export async function loadTls(tls: { cert: string; key: string }, configDir: string): Promise<TlsMaterial> {
  const read = (field: 'cert' | 'key') =>
    readFile(resolve(configDir, tls[field])).catch((error: { code?: string }) => {
      throw new Error(`server.tls.${field}: cannot read ${tls[field]} (${error.code ?? 'error'})`);
    });
  const material = { cert: await read('cert'), key: await read('key') };
  try {
    createSecureContext({ ...material, minVersion: MIN_TLS_VERSION });
  } catch (error) {
    const reason = (error as { code?: string }).code ?? 'invalid certificate or key';
    throw new Error(`server.tls: the certificate and key do not load (${reason})`);
  }
  return material;
}

/** Serves `material` for new TLS handshakes on `server` (connections already open keep theirs). */
export function applyTls(server: HttpsServer, material: TlsMaterial): void {
  server.setSecureContext({ ...material, minVersion: MIN_TLS_VERSION });
}
