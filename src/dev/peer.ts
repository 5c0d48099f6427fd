/**
 * What the sandbox's local HTTP peers (the issuer and the emulated clouds)
 * share: listening on a local port, closing with their kept-alive sockets,
 * and reading a request body under a size cap.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening peer: its base URL and a close that drops kept-alive sockets too. */
export interface ListeningPeer {
  /** `http://HOST:PORT` (IPv6 hosts bracketed). */
  url: string;
  close(): Promise<void>;
}

/** Serves `handle` on `host` (default 127.0.0.1) and `port` (default 0: a free port); resolves once listening. */
export async function serveLocal(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: { host?: string; port?: number },
): Promise<ListeningPeer> {
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The whole request body; past `maxBytes` it stops reading and throws the peer's own `tooLarge()`. */
export async function readCapped(
  req: IncomingMessage,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
