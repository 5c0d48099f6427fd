/**
 * `taskset -c 1 node --import tsx bench/verify-cost.ts`: process CPU per ES256
 * signature check, on one core, two ways — jose's `compactVerify` (WebCrypto:
 * the check runs on the libuv threadpool and resolves a promise, as the
 * broker and the floor verify) and node:crypto's synchronous `verify` on the
 * same key. For weighing a broker-only switch; the broker does not make it
 * (docs/performance.md). 10 checks in flight, 20,000 per batch, 3 rounds.
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { compactVerify, importJWK, SignJWT } from 'jose';

const CHECKS = 20_000;
const IN_FLIGHT = 10;

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = publicKey.export({ format: 'jwk' });
const joseKey = await importJWK({ ...jwk, alg: 'ES256' }, 'ES256');
const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
const tokens: string[] = [];
for (let i = 0; i < 2000; i++) {
  tokens.push(
    await new SignJWT({ sub: `subject-${i}`, aud: 'bench', iss: 'https://issuer.invalid' })
      .setProtectedHeader({ alg: 'ES256' })
      .setExpirationTime('1h')
      .sign(privateKey),
  );
}

async function viaJose(token: string): Promise<void> {
  await compactVerify(token, joseKey);
}

function viaNodeCrypto(token: string): void {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const key = { key: keyObject, dsaEncoding: 'ieee-p1363' as const };
  if (!verify('sha256', Buffer.from(token.slice(0, dot)), key, signature)) throw new Error('bad signature');
}

/** CPU µs per check of `check` (all threads of this process). */
async function batch(check: (token: string) => unknown): Promise<number> {
  const started = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < CHECKS) await check(tokens[next++ % tokens.length] as string);
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const used = process.cpuUsage(started);
  return (used.user + used.system) / CHECKS;
}

for (let round = 1; round <= 3; round++) {
  const jose = await batch(viaJose);
  const sync = await batch(viaNodeCrypto);
  process.stdout.write(
    `round ${round}: jose compactVerify ${jose.toFixed(1)} µs, node:crypto verify ${sync.toFixed(1)} µs per check\n`,
  );
}
