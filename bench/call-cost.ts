/**
 * What the in-process cost tools share (bench/provider-cost.ts,
 * bench/sts-client-ab.ts, bench/verify-cost.ts): a broker token from the
 * bench peers' IdP, and the CPU per call of two ways of doing one thing,
 * measured in alternating batches in this one process.
 */
import { BROKER_CLIENT_ID, STS_AUDIENCE } from './config.ts';

/** A broker token for the STS audience (client credentials at `endpoint`). */
export async function brokerToken(endpoint: string, secret: string): Promise<string> {
  const basic = Buffer.from(`${BROKER_CLIENT_ID}:${secret}`).toString('base64');
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience: STS_AUDIENCE }),
  });
  if (res.status !== 200) throw new Error(`broker token request answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** How many batches, calls per batch, and calls in flight. */
export interface CallCostPlan {
  rounds: number;
  calls: number;
  concurrency: number;
}

/** CPU µs per call of `a` and of `b` in each round, and `b − a` within the round. */
export interface CallCost {
  a: number[];
  b: number[];
  difference: number[];
}

/** CPU µs per call of `call`, made `plan.calls` times by `plan.concurrency` workers. */
async function batch(call: () => Promise<unknown>, plan: CallCostPlan): Promise<number> {
  const started = process.cpuUsage();
  let left = plan.calls;
  const worker = async () => {
    while (left-- > 0) await call();
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const used = process.cpuUsage(started);
  return (used.user + used.system) / plan.calls;
}

/**
 * Warms both (JIT, sockets), then measures `a` and `b` in alternating
 * batches; the per-round difference is what host noise moves least.
 */
export async function compareCallCost(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  plan: CallCostPlan,
): Promise<CallCost> {
  await batch(a, plan);
  await batch(b, plan);
  const cost: CallCost = { a: [], b: [], difference: [] };
  for (let r = 0; r < plan.rounds; r++) {
    const ua = await batch(a, plan);
    const ub = await batch(b, plan);
    cost.a.push(ua);
    cost.b.push(ub);
    cost.difference.push(ub - ua);
  }
  return cost;
}
