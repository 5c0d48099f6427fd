/** Starting and stopping the sandbox's local HTTP peers, in one place. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A listening peer: its base URL and a close that drops kept-alive sockets too. */
export interface ListeningPeer {
  /** `http://HOST:PORT` (IPv6 hosts bracketed). */
  url: string;
  close(): Promise<void>;
}

/** Listens on `host` (default 127.0.0.1) and `port` (default 0: a free port). */
export async function listenLocal(
  server: Server,
  options: { host?: string; port?: number },
): Promise<ListeningPeer> {
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
