/**
 * `taskset -c 1 node --import tsx bench/verify-cost.ts`: process CPU per ES256
 * signature check, on one core, two ways — jose's `compactVerify` (WebCrypto:
 * the check runs on the libuv threadpool and resolves a promise, as the
 * broker and the floor verify) and node:crypto's synchronous `verify` on the
 * same key. For weighing a broker-only switch; the broker does not make it
 * (docs/performance.md). 10 checks in flight, 20,000 per batch, 3 rounds
 * after one warm-up batch of each (bench/call-cost.ts).
 */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { compactVerify, importJWK, SignJWT } from 'jose';
import { compareCallCost } from './call-cost.ts';

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

// Token by token, round-robin: no check repeats the one before.
let next = 0;
const nextToken = () => tokens[next++ % tokens.length] as string;
const plan = { rounds: 3, calls: CHECKS, concurrency: IN_FLIGHT };
const cost = await compareCallCost(
  () => viaJose(nextToken()),
  async () => viaNodeCrypto(nextToken()),
  plan,
);
cost.a.forEach((jose, i) => {
  const sync = cost.b[i] as number;
  process.stdout.write(
    `round ${i + 1}: jose compactVerify ${jose.toFixed(1)} µs, node:crypto verify ${sync.toFixed(1)} µs per check\n`,
  );
});
