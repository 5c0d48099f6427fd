/**
 * `voidkey validate`: shows what the token claims (decoded locally, never
 * printed itself) and what the broker makes of it — the keys granted, or the
 * reason it refuses (401 reason, 404 unknown subject) as the error line.
 */
import { safeText } from './client/broker-errors.ts';
import { formatSpan } from './client/durations.ts';
import { EXIT, runCommand } from './client/exit.ts';
import { parseFlags } from './client/flags.ts';
import { commandHelp, exitCodesHelp } from './client/help.ts';
import { decodeJwt } from './client/jwt.ts';
import { openSession, warn } from './client/session.ts';
import { resolveSettings } from './client/settings.ts';

const HELP = commandHelp(
  'Usage: voidkey validate [options]',
  `Decodes your token locally (without verifying it) and shows its header and claims, then asks
the broker which keys it grants (GET /credentials/keys). When the broker refuses, the reason is
the error line and the exit code says which kind (3 token refused, 4 no identity for the subject).
`,
  exitCodesHelp([0, 2, 3, 4, 5]),
);

/** Runs `voidkey validate`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(async (secrets) => {
    const flags = parseFlags('validate', args, {});
    if (flags.help) {
      process.stdout.write(HELP);
      return EXIT.OK;
    }
    const settings = await resolveSettings(flags, process.env, warn);
    const session = await openSession(flags, settings, process.env, secrets);
    try {
      const token = await session.tokens.get();
      const lines = [`Token (from ${session.tokens.origin}):`, ...describeToken(token, Date.now())];
      process.stdout.write(`${lines.join('\n')}\n`);
      const subject = claimText(safePayload(token)?.sub);
      session.broker.subject = subject || undefined;
      const answer = await session.broker.listKeys(token);
      const names = answer.keys.map((key) => safeText(key.name));
      const granted = names.length > 0 ? names.join(', ') : '(none)';
      process.stdout.write(
        `Broker ${settings.brokerUrl} accepts the token:\n  identity provider: ${safeText(answer.idp)}\n  subject: ${safeText(answer.subject)}\n  keys granted (${names.length}): ${granted}\n`,
      );
      return EXIT.OK;
    } finally {
      await session.close();
    }
  });
}

function safePayload(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token).payload;
  } catch {
    return undefined;
  }
}

/** Lines describing a token's header and registered claims, times as ISO plus relative terms. */
export function describeToken(token: string, now: number): string[] {
  let decoded: ReturnType<typeof decodeJwt>;
  try {
    decoded = decodeJwt(token);
  } catch (err) {
    return [`  cannot be decoded locally: ${(err as Error).message}`];
  }
  const { header, payload } = decoded;
  const rows: Array<[string, string]> = [
    ['algorithm', claimText(header.alg) || '(none)'],
    ['key id', claimText(header.kid) || '(none)'],
    ['issuer', claimText(payload.iss) || '(none)'],
    ['subject', claimText(payload.sub) || '(none)'],
    ['audience', audienceText(payload.aud)],
    ['issued at', timeText(payload.iat, now, 'iat')],
    ['not before', timeText(payload.nbf, now, 'nbf')],
    ['expires at', timeText(payload.exp, now, 'exp')],
  ];
  return rows.map(([label, value]) => `  ${`${label}:`.padEnd(12)} ${value}`);
}

function claimText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? safeText(value) : '';
}

function audienceText(aud: unknown): string {
  if (Array.isArray(aud)) return aud.map(claimText).join(', ') || '(none)';
  return claimText(aud) || '(none)';
}

function timeText(value: unknown, now: number, claim: 'iat' | 'nbf' | 'exp'): string {
  if (value === undefined) return claim === 'exp' ? '(none; the broker requires exp)' : '(none)';
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > 1e11)
    return '(not a valid time)';
  const ms = value * 1000;
  const iso = new Date(ms).toISOString();
  const span = formatSpan(ms - now);
  const future = ms > now;
  if (claim === 'exp') return `${iso} (${future ? `expires in ${span}` : `expired ${span} ago`})`;
  if (claim === 'nbf')
    return `${iso} (${future ? `not valid for another ${span}` : `valid since ${span} ago`})`;
  return `${iso} (${future ? `${span} in the future` : `${span} ago`})`;
}
