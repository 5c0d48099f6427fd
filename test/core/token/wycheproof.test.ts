/**
 * Project Wycheproof vectors (copies in test/fixtures/wycheproof, Apache 2.0)
 * through the broker's verification path. Every vector the policy covers must
 * get Wycheproof's verdict; the rest must be refused by policy, and the list
 * of those is computed independently from the file and compared with what the
 * broker reports. JWS vectors carry no JWT claims, so they go through
 * verifySignatureOnly: the same pre-parser, key-set checks and jose call as
 * the verifier, without the claim rules. Raw signature vectors (no JWS
 * signing input) go through verifyRawSignature: the same key-set checks and
 * the WebCrypto operation jose performs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, type TestContext, test } from 'node:test';
import type { JWK } from 'jose';
import { ALLOWED_ALGORITHMS } from '../../../src/core/config/schema.ts';
import { InvalidTokenError } from '../../../src/core/errors.ts';
import { checkKeySet } from '../../../src/core/token/index.ts';
import { verifyRawSignature, verifySignatureOnly } from '../../../src/core/token/signature.ts';

type Verdict = 'valid' | 'invalid' | 'acceptable';
interface JwsVector {
  tcId: number;
  comment: string;
  jws: string;
  result: Verdict;
}
interface RawVector {
  tcId: number;
  comment: string;
  msg: string;
  sig: string;
  result: Verdict;
  flags: string[];
}
interface JoseGroup {
  comment: string;
  public?: JWK | { keys: JWK[] };
  private?: JWK | { keys: JWK[] };
  tests: JwsVector[];
}
interface RawGroup {
  publicKey: { modulus?: string; publicExponent?: string; wx?: string; wy?: string };
  tests: RawVector[];
}

const load = <T>(name: string): { testGroups: T[] } =>
  JSON.parse(readFileSync(new URL(`../../fixtures/wycheproof/${name}`, import.meta.url), 'utf8'));

const ALLOWED: readonly string[] = ALLOWED_ALGORITHMS;
const ALLOWED_CURVES = ['P-256', 'P-384', 'Ed25519'];
/** Key-check reasons that are the allow-list (algorithm, curve, key kind), not a defect of the key. */
const POLICY_DROP = /^(symmetric key|curve .* is not allowed|alg .* is not allowed)$/;
/** Key policy beyond the allow-list that refuses keys Wycheproof still signs with (e = 3). */
const EXPONENT_DROP = /^RSA public exponent is not 65537$/;

/**
 * Covered vectors where the broker's verdict differs from Wycheproof's, and why. The RFC 7520
 * Figure 20 token is PS384 but the group's JWK declares `"alg": "PS256"`; the broker (like jose)
 * uses a key only for its declared alg (RFC 7517 §4.4) — the same rule that makes the
 * WrongPrimitive vectors (tcId 331–340) invalid, as Wycheproof expects.
 */
const DIVERGENCES: Record<number, string> = {
  346: 'key declares alg PS256, token uses PS384: refused (a key is used only for its declared alg)',
  350: 'key declares alg PS256, token uses PS384: refused (a key is used only for its declared alg)',
};
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/** What an issuer would publish for a group's key: the public key, or the private one without private members. */
function publishedKeys(group: JoseGroup): JWK[] {
  const source = group.public ?? group.private;
  const keys = source && 'keys' in source ? source.keys : [source as JWK];
  if (group.public) return keys;
  return keys.map((k) =>
    Object.fromEntries(Object.entries(k).filter(([name]) => !PRIVATE_MEMBERS.includes(name))),
  );
}

/** From the file alone: is this vector outside the broker's policy? */
function outsidePolicy(jws: string, keys: readonly JWK[]): string | undefined {
  const alg = headerAlg(jws);
  if (alg !== undefined && !ALLOWED.includes(alg)) return `token alg ${alg}`;
  const keyOutside = (k: JWK) =>
    k.kty === 'oct' ||
    (k.alg !== undefined && !ALLOWED.includes(k.alg)) ||
    (k.crv !== undefined && !ALLOWED_CURVES.includes(k.crv));
  if (keys.length > 0 && keys.every(keyOutside)) return `key ${keys.map((k) => k.alg ?? k.kty).join(',')}`;
  return undefined;
}

/** A lenient decode of the header's alg, independent of the broker's pre-parser. */
function headerAlg(jws: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8'));
    return typeof header?.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

interface Outcome {
  accepted: boolean;
  /** Why the broker refused by policy, when it did. */
  policy?: string;
  detail: string;
}

async function brokerOnJws(jws: string, keys: readonly JWK[]): Promise<Outcome> {
  try {
    await verifySignatureOnly(jws, { keys });
    return { accepted: true, detail: 'accepted' };
  } catch (err) {
    const reason = err instanceof InvalidTokenError ? err.reason : String((err as Error).name);
    if (reason === 'algorithm_not_allowed') return { accepted: false, policy: reason, detail: reason };
    let drops: string[] = [];
    try {
      const checked = checkKeySet({ keys });
      if (checked.keys.length === 0) drops = checked.dropped.map((d) => d.reason);
    } catch {}
    if (drops.length > 0 && drops.every((d) => POLICY_DROP.test(d))) {
      return { accepted: false, policy: `key dropped: ${drops.join('; ')}`, detail: reason };
    }
    return { accepted: false, detail: reason };
  }
}

/** Runs JWS vectors; returns verdict mismatches and lists policy refusals on `t`. */
async function runJoseFile(t: TestContext, groups: JoseGroup[], keysOf: (g: JoseGroup) => JWK[]) {
  const mismatches: string[] = [];
  const expectedOutside = new Map<number, string>();
  const refusedByPolicy = new Map<number, string>();
  let covered = 0;
  for (const group of groups) {
    const keys = keysOf(group);
    for (const v of group.tests) {
      const outside = outsidePolicy(v.jws, keys);
      if (outside) expectedOutside.set(v.tcId, outside);
      const outcome = await brokerOnJws(v.jws, keys);
      if (outcome.policy) refusedByPolicy.set(v.tcId, outcome.policy);
      if (outside) {
        if (outcome.accepted) mismatches.push(`tcId ${v.tcId} (${outside}) was accepted`);
        continue;
      }
      covered++;
      const divergence = DIVERGENCES[v.tcId];
      if (divergence !== undefined) {
        t.diagnostic(`differs from Wycheproof (${v.result}): tcId ${v.tcId}: ${divergence}`);
        if (outcome.accepted) mismatches.push(`tcId ${v.tcId}: expected the documented refusal`);
        continue;
      }
      if (outcome.accepted !== (v.result === 'valid')) {
        mismatches.push(
          `tcId ${v.tcId} ${group.comment}/${v.comment}: wycheproof ${v.result}, broker ${outcome.detail}`,
        );
      }
    }
  }
  for (const [tcId, why] of refusedByPolicy) t.diagnostic(`refused by policy: tcId ${tcId}: ${why}`);
  t.diagnostic(`${covered} vectors covered by the allow-list got Wycheproof's verdict`);
  return { mismatches, expectedOutside, refusedByPolicy, covered };
}

describe('Wycheproof vectors', () => {
  test('JSON Web Signature vectors: Wycheproof verdict inside the policy, refused by policy outside it', async (t) => {
    const { testGroups } = load<JoseGroup>('json_web_signature_test.json');
    const r = await runJoseFile(t, testGroups, publishedKeys);
    assert.deepEqual(r.mismatches, []);
    assert.deepEqual([...r.refusedByPolicy.keys()].sort(), [...r.expectedOutside.keys()].sort());
    // Sanity: the file mixes both kinds (HS256, ES512 and alg none are outside the allow-list).
    assert.ok(r.expectedOutside.size >= 40 && r.covered >= 300, `${r.expectedOutside.size} / ${r.covered}`);
    for (const tcId of [1, 16, 31, 341, 342, 347, 348])
      assert.ok(r.expectedOutside.has(tcId), `tcId ${tcId}`);
  });

  test('JSON Web Key vectors: the key-set checks give Wycheproof’s verdict', async (t) => {
    const { testGroups } = load<JoseGroup>('json_web_key_test.json');
    const setOf = (g: JoseGroup): JWK[] => {
      const source = g.public ?? g.private;
      return source && 'keys' in source ? source.keys : [];
    };
    const r = await runJoseFile(t, testGroups, setOf);
    assert.deepEqual(r.mismatches, []);
    assert.deepEqual([...r.refusedByPolicy.keys()].sort(), [...r.expectedOutside.keys()].sort());
    // The weak-key cases are inside the allow-list and refused by the key checks, not by policy.
    for (const tcId of [7, 8, 9, 21, 22, 23, 24]) assert.ok(!r.expectedOutside.has(tcId), `tcId ${tcId}`);
  });

  test('JSON Web Key vectors: a published private or symmetric key is never used', () => {
    const { testGroups } = load<JoseGroup>('json_web_key_test.json');
    for (const group of testGroups) {
      const source = group.private;
      if (!source || !('keys' in source)) continue;
      let checked: ReturnType<typeof checkKeySet>;
      try {
        checked = checkKeySet(source);
      } catch {
        continue; // refused whole (duplicate kid)
      }
      const secret = checked.keys.filter((k) => k.kty === 'oct' || PRIVATE_MEMBERS.some((m) => m in k));
      assert.deepEqual(secret, [], group.comment);
    }
  });

  const rawFiles: Array<[string, string, (g: RawGroup) => JWK]> = [
    ['rsa_signature_2048_sha256_test.json', 'RS256', rsaJwk],
    ['rsa_pss_2048_sha256_mgf1_32_test.json', 'PS256', rsaJwk],
    ['ecdsa_secp256r1_sha256_p1363_test.json', 'ES256', ecJwk],
  ];

  for (const [file, alg, jwkOf] of rawFiles) {
    test(`${file}: ${alg} signatures get Wycheproof's verdict under the key checks`, async (t) => {
      const { testGroups } = load<RawGroup>(file);
      const mismatches: string[] = [];
      const expectedOutside: number[] = [];
      const refusedByPolicy: number[] = [];
      for (const group of testGroups) {
        const jwk = jwkOf(group);
        const weakExponent =
          group.publicKey.publicExponent !== undefined && group.publicKey.publicExponent !== '010001';
        for (const v of group.tests) {
          if (weakExponent) expectedOutside.push(v.tcId);
          const out = await verifyRawSignature(
            alg,
            jwk,
            Buffer.from(v.msg, 'hex'),
            Buffer.from(v.sig, 'hex'),
          );
          if (out.refusedBy && EXPONENT_DROP.test(out.refusedBy)) {
            refusedByPolicy.push(v.tcId);
            t.diagnostic(`refused by policy: tcId ${v.tcId} (${v.result}): ${out.refusedBy}`);
          }
          if (weakExponent) {
            if (out.accepted) mismatches.push(`tcId ${v.tcId}: accepted with e ≠ 65537`);
          } else if (v.result === 'acceptable') {
            // Policy choice: "acceptable" legacy encodings (e.g. a DigestInfo without NULL) are refused.
            t.diagnostic(
              `acceptable tcId ${v.tcId} (${v.flags.join(',')}): broker ${out.accepted ? 'accepts' : 'refuses'}`,
            );
            if (out.accepted) mismatches.push(`tcId ${v.tcId}: acceptable legacy encoding was accepted`);
          } else if (out.accepted !== (v.result === 'valid')) {
            mismatches.push(`tcId ${v.tcId} ${v.comment}: wycheproof ${v.result}, broker ${out.accepted}`);
          }
        }
      }
      assert.deepEqual(mismatches, []);
      assert.deepEqual(refusedByPolicy, expectedOutside);
    });
  }
});

/** The group's P-256 key as a JWK (not every group carries one): coordinates as 32 big-endian bytes. */
function ecJwk(group: RawGroup): JWK {
  const coordinate = (hex: string) =>
    Buffer.from(hex.replace(/^(00)+/, '').padStart(64, '0'), 'hex').toString('base64url');
  return {
    kty: 'EC',
    crv: 'P-256',
    x: coordinate(group.publicKey.wx as string),
    y: coordinate(group.publicKey.wy as string),
  };
}

function rsaJwk(group: RawGroup): JWK {
  const toB64 = (hex: string) => Buffer.from(hex.replace(/^(00)+/, ''), 'hex').toString('base64url');
  return {
    kty: 'RSA',
    n: toB64(group.publicKey.modulus as string),
    e: toB64(group.publicKey.publicExponent as string),
  };
}
