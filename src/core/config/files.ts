/**
 * The files a valid config names and the broker reads once it runs: the TLS
 * certificate and key, and the broker's private key. `config validate` and
 * `serve` both read them here before anything starts, so a config that
 * validates is one that serve can load, and every problem names the field,
 * the full path and what the system said.
 */
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { algorithmFor, PrivateKeyError } from '../broker-token/client-auth.ts';
import { systemError } from './report.ts';
import type { Config } from './schema.ts';

/** Reads `file`, or returns the problem line for `field`. */
async function read(field: string, file: string): Promise<Buffer | string> {
  try {
    return await readFile(file);
  } catch (err) {
    return `${field}: cannot read ${systemError(err, file)}`;
  }
}

async function checkTls(tls: { cert: string; key: string }): Promise<string[]> {
  const cert = await read('server.tls.cert', tls.cert);
  const key = await read('server.tls.key', tls.key);
  const problems = [cert, key].filter((r): r is string => typeof r === 'string');
  if (problems.length > 0) return problems;
  try {
    createSecureContext({ cert: cert as Buffer, key: key as Buffer, minVersion: 'TLSv1.2' });
    return [];
  } catch (err) {
    const reason = (err as { code?: string }).code ?? 'not a PEM certificate chain and its private key';
    return [`server.tls: ${tls.cert} and ${tls.key} do not load as a certificate and key (${reason})`];
  }
}

async function checkPrivateKey(file: string): Promise<string[]> {
  const pem = await read('brokerIdp.privateKeyFile', file);
  if (typeof pem === 'string') return [pem];
  try {
    algorithmFor(createPrivateKey(pem));
    return [];
  } catch (err) {
    const why = err instanceof PrivateKeyError ? `: ${err.message}` : ' is not a PEM private key';
    return [`brokerIdp.privateKeyFile: ${file}${why}`];
  }
}

/**
 * One `path: problem` line per file the config names that cannot be used
 * (paths are absolute once loaded). Never quotes a file's content.
 */
export async function checkConfigFiles(config: Readonly<Config>): Promise<string[]> {
  const tls = config.server.tls;
  const keyFile =
    config.brokerIdp.clientAuth === 'private_key_jwt' ? config.brokerIdp.privateKeyFile : undefined;
  const results = await Promise.all([
    tls ? checkTls(tls) : [],
    keyFile === undefined ? [] : checkPrivateKey(keyFile),
  ]);
  return results.flat();
}
