/**
 * Shaping a successful mint into the wire answer: each key's outputs mapped
 * to environment variables, expiries as ISO strings, and the audit entries.
 */
import type { KeyConfig } from '../config/schema.ts';
import type { AccessProvider, MintOutput } from '../types.ts';
import type { KeyPlan, MintedKeyAudit, MintResult } from './types.ts';

/** One key minted by its provider. */
export interface MintedKey {
  plan: KeyPlan;
  output: MintOutput;
}

/**
 * ENV_VAR → value for one key. An output naming one of the provider's fields
 * takes that field; `{ value }`, or a string that names no field, is a literal.
 * Without `outputs`, the provider's default outputs apply.
 */
export function mapOutputs(
  key: Pick<KeyConfig, 'outputs'>,
  provider: Pick<AccessProvider, 'name' | 'fields' | 'defaultOutputs'>,
  fields: Readonly<Record<string, string>>,
): Record<string, string> {
  const outputs = key.outputs ?? provider.defaultOutputs;
  const mapped: Record<string, string> = {};
  for (const [name, spec] of Object.entries(outputs)) {
    if (typeof spec !== 'string') mapped[name] = spec.value;
    else if (provider.fields.includes(spec)) mapped[name] = fieldValue(provider.name, fields, spec);
    else mapped[name] = spec;
  }
  return mapped;
}

function fieldValue(provider: string, fields: Readonly<Record<string, string>>, field: string): string {
  const value = Object.hasOwn(fields, field) ? fields[field] : undefined;
  // A provider that omits a field it declares is a bug; answering with a
  // half-filled credential would fail later and more confusingly.
  if (typeof value !== 'string') throw new Error(`provider ${provider} returned no ${field} field`);
  return value;
}

/**
 * The 200 answer and audit entries for `minted` (in request order), issued at
 * `now`. Each expiry is formatted once and shared by the answer and the audit
 * entry.
 */
export function shapeAnswer(minted: readonly MintedKey[], subject: string, now: Date): MintResult {
  if (minted.length === 0) throw new TypeError('an answer needs at least one minted key');
  const credentials: Record<string, Record<string, string>> = {};
  const keyExpiresAt: Record<string, string> = {};
  const audit: MintedKeyAudit[] = [];
  let earliest = Number.POSITIVE_INFINITY;
  let earliestIso = '';
  for (const entry of minted) {
    const { plan, output } = entry;
    const expiresAt = output.expiresAt.toISOString();
    credentials[plan.name] = mapOutputs(plan.key, plan.provider, output.fields);
    keyExpiresAt[plan.name] = expiresAt;
    audit.push(auditEntry(entry, expiresAt));
    const ms = output.expiresAt.getTime();
    if (ms < earliest) {
      earliest = ms;
      earliestIso = expiresAt;
    }
  }
  return {
    response: {
      credentials,
      expiresAt: earliestIso,
      subject,
      issuedAt: now.toISOString(),
      keyExpiresAt,
    },
    audit,
  };
}

/**
 * The audit entry of one minted key: identifiers and expiry, never a secret.
 */
export function auditEntry(
  { plan, output }: MintedKey,
  expiresAt: string = output.expiresAt.toISOString(),
): MintedKeyAudit {
  const { role, serviceAccount, sessionName, accessKeyId, upstreamRequestId } = output.audit;
  // Field order as written to the audit log; expiresAt last.
  const entry = { key: plan.name, provider: plan.provider.name } as MintedKeyAudit;
  if (role !== undefined) entry.role = role;
  if (serviceAccount !== undefined) entry.serviceAccount = serviceAccount;
  if (sessionName !== undefined) entry.sessionName = sessionName;
  if (accessKeyId !== undefined) entry.accessKeyId = accessKeyId;
  if (upstreamRequestId !== undefined) entry.upstreamRequestId = upstreamRequestId;
  entry.expiresAt = expiresAt;
  return entry;
}
