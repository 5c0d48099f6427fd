/**
 * `node --import tsx bench/sts-client-ab.ts DIST_A DIST_B [--rounds N] [--calls N] [--concurrency N]`:
 * client-side CPU per `AssumeRoleWithWebIdentity` call through
 * `createStsClient` of two builds (copies of `dist/`), in this one process,
 * against the bench peers' STS endpoint — for changes to the STS client
 * itself, which the floor shares and the ratios therefore cannot show. The
 * two run in alternating batches (each call with an abort signal, as the
 * broker makes it); the result is the median of the per-round differences
 * B − A, which host noise moves far less than either number alone.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { brokerToken, compareCallCost } from './call-cost.ts';
import { pinProcess, planCpus } from './procs.ts';
import { f1, range, spread } from './report.ts';
import { startPeersProcess } from './world.ts';

type CreateStsClient = typeof import('../src/providers/aws-sts/client.ts').createStsClient;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '16' },
    calls: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '10' },
  },
});
const [distA, distB] = positionals;
if (!distA || !distB) {
  process.stderr.write('usage: node --import tsx bench/sts-client-ab.ts DIST_A DIST_B\n');
  process.exit(2);
}
const rounds = Number(values.rounds);
const calls = Number(values.calls);
const concurrency = Number(values.concurrency);
const ROLE = 'arn:aws:iam::123456789012:role/bench-1-a';

async function factory(dist: string): Promise<CreateStsClient> {
  const module = (await import(resolve(dist, 'providers/aws-sts/client.js'))) as {
    createStsClient: CreateStsClient;
  };
  return module.createStsClient;
}

async function main(a: string, b: string): Promise<void> {
  const [createA, createB] = await Promise.all([factory(a), factory(b)]);
  const cpus = planCpus();
  const peers = await startPeersProcess(1, cpus.load);
  // This process is the client side under test: it gets the server's CPU, the peers the other.
  pinProcess(process.pid, cpus.server);
  try {
    const token = await brokerToken(peers.info.brokerTokenEndpoint, peers.info.brokerSecret);
    const endpoint = peers.info.endpoints.stsEndpoint;
    const caller = (create: CreateStsClient) => {
      const sts = create({ region: 'us-east-1', endpoint, httpTimeout: 5000 });
      const signal = new AbortController().signal;
      return () =>
        sts.assumeRoleWithWebIdentity(
          { RoleArn: ROLE, RoleSessionName: 'voidkey-bench', WebIdentityToken: token, DurationSeconds: 900 },
          signal,
        );
    };
    const cost = await compareCallCost(caller(createA), caller(createB), { rounds, calls, concurrency });
    process.stdout.write(
      `CPU µs per STS call, median (min–max) of ${rounds} rounds × ${calls} calls, ${concurrency} at a time:\n` +
        `  A ${a}: ${range(spread(cost.a), f1)}\n  B ${b}: ${range(spread(cost.b), f1)}\n` +
        `  B − A, same round: ${range(spread(cost.difference), f1)}\n`,
    );
  } finally {
    await peers.close();
  }
}

main(distA, distB).catch((err: unknown) => {
  process.stderr.write(`sts-client-ab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
