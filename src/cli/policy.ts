/**
 * `voidkey policy test FILE …` and `voidkey policy explain …`: the broker's
 * policy asked offline, from a config file and claims, without a broker.
 */
import { type CommandIo, processIo } from './io.ts';
import { InvalidInput, POLICY_EXIT } from './policy/common.ts';

const USAGE = `Usage: voidkey policy <test|explain> [options]

  test FILE     run policy test cases against a config (exit 0 passed, 1 failed, 2 invalid)
  explain       show why claims get or do not get each key, with expected values and hints

Run 'voidkey policy test --help' or 'voidkey policy explain --help' for options.
`;

const SUBCOMMANDS: Record<string, () => Promise<{ run(args: string[], io: CommandIo): Promise<number> }>> = {
  test: () => import('./policy/test.ts'),
  explain: () => import('./policy/explain.ts'),
};

/** Runs `voidkey policy <subcommand>`; returns the exit code. */
export async function run(args: string[], io: CommandIo = processIo()): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  const load = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (load === undefined) {
    const what = sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub.slice(0, 40)}'`;
    io.stderr(`voidkey: ${what} (see 'voidkey policy --help')\n`);
    return 2;
  }
  try {
    return await (await load()).run(rest, io);
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    for (const line of err.lines) io.stderr(`${line}\n`);
    return POLICY_EXIT.INVALID;
  }
}
