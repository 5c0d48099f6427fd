/**
 * The benchmark's peers and floor, started as `npm run bench` starts them: if
 * the dev issuer, the STS peer or the SDK moves on, this fails instead of the
 * benchmark rotting.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KEY_NAMES } from '../../bench/config.ts';
import { checkServer, type Peers, type Server, startFloor, startPeers } from '../../bench/servers.ts';

let dir: string;
let peers: Peers;
let floor: Server | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voidkey-bench-servers-'));
  peers = await startPeers(2, undefined);
});

after(async () => {
  await floor?.process.stop();
  await peers?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('the peers sign distinct tokens for the identities asked, spread over the issuers', async () => {
  const tokens = await peers.tokens({ population: 'exact', identities: 4, count: 8 });
  assert.equal(new Set(tokens).size, 8);
  const payload = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] ?? '', 'base64url').toString());
  const issuers = new Set(tokens.map((t) => payload(t).iss));
  assert.deepEqual([...issuers].sort(), peers.info.endpoints.clientIdps.map((i) => i.issuer).sort());
  assert.equal(payload(tokens[1] as string).sub, 'repo:bench-org/service-1:ref:refs/heads/main');
});

test('the floor mints every key, refuses a forged signature, and fetches one broker token', async () => {
  const [token] = await peers.tokens({ population: 'exact', identities: 4, count: 1 });
  floor = await startFloor(dir, peers.info, 4, undefined);
  await checkServer(floor, token as string, KEY_NAMES);
  const stats = await peers.stats();
  assert.equal(stats.brokerTokenRequests, 1);
  assert.equal(stats.stsRequests, KEY_NAMES.length);
  // The floor reads the issuers' keys directly; the counting proxy is the broker's path.
  assert.deepEqual(stats.jwksFetches, [0, 0]);
});
