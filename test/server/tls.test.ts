import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import { loadTls } from '../../src/server/options.ts';
import { selfSignedCert } from '../helpers/tls.ts';
import { type Live, startLive, startLiveBroker } from './live.ts';

/** GET over HTTPS trusting `ca`; the status, HSTS header and the served certificate's fingerprint. */
function get(
  url: string,
  ca: Buffer,
): Promise<{ status: number; hsts: string | undefined; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      const peer = (res.socket as unknown as { getPeerCertificate(): PeerCertificate }).getPeerCertificate();
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          hsts: res.headers['strict-transport-security'] as string | undefined,
          fingerprint: peer.fingerprint256,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** The TLS protocol negotiated when the client allows at most `maxVersion`, or the error code. */
function handshake(port: number, maxVersion: 'TLSv1.1' | 'TLSv1.2', ca: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, minVersion: 'TLSv1', maxVersion }, () => {
      resolve(socket.getProtocol() ?? 'none');
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

const fingerprintOf = async (path: string) => new X509Certificate(await readFile(path)).fingerprint256;

describe('native HTTPS', () => {
  let live: Live;
  let first: { cert: string; key: string };
  let second: { cert: string; key: string };

  before(async () => {
    live = await startLive();
    first = selfSignedCert(live.dir, 'first');
    second = selfSignedCert(live.dir, 'second');
  });
  after(() => live.close());

  test('serves TLS 1.2+ with HSTS, and swaps in a renewed certificate on reload', async () => {
    await copyFile(first.cert, join(live.dir, 'cert.pem'));
    await copyFile(first.key, join(live.dir, 'key.pem'));
    const tls = { cert: 'cert.pem', key: 'key.pem' };
    await live.write(live.config({ server: { host: '127.0.0.1', allowInsecureIssuers: true, tls } }));
    const { broker } = await startLiveBroker(live);
    try {
      assert.match(broker.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const port = Number(new URL(broker.url).port);
      const ca = Buffer.concat([await readFile(first.cert), await readFile(second.cert)]);
      const before = await get(`${broker.url}/health/live`, ca);
      assert.equal(before.status, 200);
      assert.equal(before.hsts, 'max-age=31536000; includeSubDomains');
      assert.equal(before.fingerprint, await fingerprintOf(first.cert));
      assert.equal(await handshake(port, 'TLSv1.2', ca), 'TLSv1.2');
      assert.notEqual(await handshake(port, 'TLSv1.1', ca), 'TLSv1.1');

      await copyFile(second.cert, join(live.dir, 'cert.pem'));
      await copyFile(first.key, join(live.dir, 'key.pem'));
      const refused = await broker.reload();
      assert.equal(refused.ok, false, 'a certificate that does not match its key is refused');
      assert.equal((await get(`${broker.url}/health/live`, ca)).fingerprint, await fingerprintOf(first.cert));

      await copyFile(second.key, join(live.dir, 'key.pem'));
      assert.equal((await broker.reload()).ok, true);
      assert.equal(
        (await get(`${broker.url}/health/live`, ca)).fingerprint,
        await fingerprintOf(second.cert),
      );
    } finally {
      await broker.close();
    }
  });

  test('names the field of an unreadable or unusable file, never its content', async () => {
    await assert.rejects(loadTls({ cert: 'missing.pem', key: 'key.pem' }, live.dir), {
      message: 'server.tls.cert: cannot read missing.pem (ENOENT)',
    });
    await assert.rejects(loadTls({ cert: first.cert, key: second.key }, live.dir), (error: Error) => {
      assert.match(error.message, /^server\.tls: the certificate and key do not load/);
      assert.equal(error.message.includes('PRIVATE KEY'), false);
      return true;
    });
  });
});
