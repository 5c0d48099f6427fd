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
import { brokerToken, compareCallCost } from './call-cost.ts';
import { PROVIDER_NAME, STS_AUDIENCE } from './config.ts';
import { pinProcess, planCpus } from './procs.ts';
import { f1, range, spread } from './report.ts';
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
    built<typeof import('../src/server/metrics.ts')>('server/metrics.js'),
  ]);

const ROLE = 'arn:aws:iam::123456789012:role/bench-1-a';
const SUBJECT = 'repo:bench-org/service-1:ref:refs/heads/main';

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
    const plan = { rounds, calls, concurrency };
    const cost = await compareCallCost(floorCall, brokerCall, plan);
    process.stdout.write(
      `CPU µs per STS call, median (min–max) of ${rounds} rounds × ${calls} calls, ${concurrency} at a time:\n` +
        `  floor (bare SDK call):            ${range(spread(cost.a), f1)}\n` +
        `  broker (provider.mint, deadline): ${range(spread(cost.b), f1)}\n` +
        `  broker − floor, same round:       ${range(spread(cost.difference), f1)}\n`,
    );
  } finally {
    await peers.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`provider-cost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
