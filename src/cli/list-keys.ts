/**
 * `voidkey list-keys`: the keys the broker grants the token's identity, as a
 * table, the `/credentials/keys` body as received, or YAML.
 */
import type { KeysAnswer } from './client/broker.ts';
import { safeText } from './client/broker-errors.ts';
import { formatMaxDuration } from './client/durations.ts';
import { EXIT, runCommand, usageError } from './client/exit.ts';
import { parseFlags } from './client/flags.ts';
import { commandHelp, exitCodesHelp } from './client/help.ts';
import { tokenIdentity } from './client/jwt.ts';
import { openSession, warn } from './client/session.ts';
import { resolveSettings } from './client/settings.ts';

const OPTIONS = { format: { type: 'string' } } as const;
const FORMATS = ['table', 'json', 'yaml'];

const HELP = commandHelp(
  'Usage: voidkey list-keys [--format table|json|yaml] [options]',
  `Lists the keys the broker grants your identity (GET /credentials/keys).

Options:
  --format FORMAT     table (default): NAME, PROVIDER, MAX DURATION, DESCRIPTION
                      json: the broker's answer exactly as received; yaml: the same as YAML
`,
  exitCodesHelp([0, 2, 3, 4, 5]),
);

/** Runs `voidkey list-keys`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(async (secrets) => {
    const flags = parseFlags('list-keys', args, OPTIONS);
    if (flags.help) {
      process.stdout.write(HELP);
      return EXIT.OK;
    }
    const format = flags.format ?? 'table';
    if (!FORMATS.includes(format)) {
      throw usageError(`--format: '${format.slice(0, 40)}' is not one of ${FORMATS.join(', ')}`);
    }
    const settings = await resolveSettings(flags, process.env, warn);
    const session = await openSession(flags, settings, process.env, secrets);
    try {
      const token = await session.tokens.get();
      session.broker.subject = tokenIdentity(token)?.sub;
      const answer = await session.broker.listKeys(token);
      process.stdout.write(await render(format, answer));
      return EXIT.OK;
    } finally {
      await session.close();
    }
  });
}

async function render(format: string, answer: KeysAnswer): Promise<string> {
  if (format === 'json') return answer.raw.endsWith('\n') ? answer.raw : `${answer.raw}\n`;
  if (format === 'yaml') {
    const { stringify } = await import('yaml');
    return stringify(JSON.parse(answer.raw));
  }
  return formatTable(answer);
}

/** Aligned columns; broker-supplied text is made printable (no terminal escapes). */
export function formatTable(answer: Pick<KeysAnswer, 'keys'>): string {
  const rows = [
    ['NAME', 'PROVIDER', 'MAX DURATION', 'DESCRIPTION'],
    ...answer.keys.map((key) => [
      safeText(key.name),
      safeText(key.provider),
      formatMaxDuration(key.maxDuration),
      safeText(key.description),
    ]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const lines = rows.map((row) =>
    row
      .map((cell, column) => (column < 3 ? cell.padEnd((widths[column] ?? 0) + 2) : cell))
      .join('')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
