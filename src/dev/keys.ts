/**
 * Newly generated key pairs, detached from the job that generated them.
 *
 * In Node.js 20 a key-generation job and the keys it returns share one mutex.
 * The job's destructor, run by the garbage collector, takes that mutex, and
 * exporting a key as a JWK holds it while allocating on the JavaScript heap:
 * a collection in the middle of the export deadlocks the thread (seen in CI,
 * a test process stuck in ExportJWK → GC → ~KeyGenJob). A PKCS#8 export
 * takes no lock, so the private key read back from it, and the public key
 * derived from that, share nothing with the job.
 */
import { createPrivateKey, createPublicKey, KeyObject, type webcrypto } from 'node:crypto';

/** `pair`'s private key re-read from PKCS#8, with its public key; safe to export as a JWK. */
export function detachKeyPair(pair: { privateKey: KeyObject | webcrypto.CryptoKey }): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  const source = pair.privateKey instanceof KeyObject ? pair.privateKey : KeyObject.from(pair.privateKey);
  const der = source.export({ format: 'der', type: 'pkcs8' });
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
