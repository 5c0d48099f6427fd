/**
 * `node --import tsx bench/provider-cost.ts [--rounds N] [--calls N] [--concurrency N]`:
 * client-side CPU per STS call, in this one process, of the broker's aws-sts
 * provider (`provider.mint` with a request deadline, as a mint makes it) and
 * of the floor's bare SDK call (the same STS client, a fixed session name,
 * no signal), against the bench peers' STS endpoint. The two run in
 * alternating batches; the result is the median of the per-round
 * differences, which host noise moves far less than either number alone.
 * Reads the built broker (`npm run build` first): tsx's own helpers would
 * otherwise be counted as the provider's cost.
 */
import { parseArgs } from 'node:util';
import { BROKER_CLIENT_ID, PROVIDER_NAME, STS_AUDIENCE } from './config.ts';
import { pinProcess, planCpus } from './procs.ts';
import { spread } from './report.ts';
import { startPeersProcess } from './world.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    calls: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '10' },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);

/** A module of the build, typed as its source. */
function built<T>(path: string): Promise<T> {
  return import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<T>;
}

const [{ createAwsStsProvider }, { createStsClient }, { requestDeadline }, { createMetrics }] =
  await Promise.all([
    built<typeof import('../src/providers/aws-sts/index.ts')>('providers/aws-sts/index.js'),
    built<typeof import('../src/providers/aws-sts/client.ts')>('providers/aws-sts/client.js'),
    built<typeof import('../src/server/routes/deadline.ts')>('server/routes/deadline.js'),
    built<typeof import('../src/server/telemetry.ts')>('server/telemetry.js'),
  ]);

const ROLE = 'arn:aws:iam::123456789012:role/bench-1-a';
const SUBJECT = 'repo:bench-org/service-1:ref:refs/heads/main';

async function brokerToken(endpoint: string, secret: string): Promise<string> {
  const basic = Buffer.from(`${BROKER_CLIENT_ID}:${secret}`).toString('base64');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience: STS_AUDIENCE }),
  });
  if (res.status !== 200) throw new Error(`broker token request answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** CPU µs per call of `call`, made `calls` times by `concurrency` workers. */
async function batch(call: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  let left = calls;
  const worker = async () => {
    while (left-- > 0) await call();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(started);
  return (used.user + used.system) / calls;
}

async function main(): Promise<void> {
  const cpus = planCpus();
  const peers = await startPeersProcess(1, cpus.load);
  // This process is the server side of the comparison: it gets the server's CPU, the peers the other.
  pinProcess(process.pid, cpus.server);
  try {
    const { info } = peers;
    const token = await brokerToken(info.brokerTokenEndpoint, info.brokerSecret);
    const endpoint = info.endpoints.stsEndpoint;
    const issuer = info.endpoints.clientIdps[0]?.issuer ?? 'https://issuer.invalid';
    const sts = createStsClient({ region: 'us-east-1', endpoint, httpTimeout: 5000 });
    const provider = createAwsStsProvider(
      { name: PROVIDER_NAME, type: 'aws-sts', region: 'us-east-1', endpoint, audience: STS_AUDIENCE },
      {
        httpTimeout: 5000,
        maxRetries: 2,
        retryDelay: 100,
        brokerAudience: STS_AUDIENCE,
        telemetry: createMetrics({ version: 'bench', defaultMetrics: false }).telemetry,
      },
    );
    const floorCall = () =>
      sts.assumeRoleWithWebIdentity({
        RoleArn: ROLE,
        RoleSessionName: 'voidkey-floor',
        WebIdentityToken: token,
        DurationSeconds: 900,
      });
    const brokerCall = async () => {
      const deadline = requestDeadline(30_000);
      try {
        await provider.mint({
          keyName: 'KEY_A',
          key: { provider: PROVIDER_NAME, roleArn: ROLE, duration: 900 },
          durationSeconds: undefined,
          brokerToken: token,
          subject: SUBJECT,
          issuer,
          signal: deadline.signal,
        });
      } finally {
        deadline.clear();
      }
    };
    // Warm both paths (JIT, sockets) before anything counts.
    await batch(floorCall);
    await batch(brokerCall);
    const floor: number[] = [];
    const broker: number[] = [];
    const difference: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const f = await batch(floorCall);
      const b = await batch(brokerCall);
      floor.push(f);
      broker.push(b);
      difference.push(b - f);
    }
    const show = (xs: number[]) => {
      const s = spread(xs);
      return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
    };
    process.stdout.write(
      `CPU µs per STS call, median (min–max) of ${rounds} rounds × ${calls} calls, ${concurrency} at a time:\n` +
        `  floor (bare SDK call):            ${show(floor)}\n` +
        `  broker (provider.mint, deadline): ${show(broker)}\n` +
        `  broker − floor, same round:       ${show(difference)}\n`,
    );
  } finally {
    await peers.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`provider-cost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
