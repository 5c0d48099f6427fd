/**
 * `voidkey version`: the package version, from the broker's one version
 * reader (which loads nothing else).
 */
import { parseArgs } from 'node:util';
import { readPackageVersion } from '../server/version.ts';

/** Prints `voidkey <version>`; anything but --help is a usage error, as in every other command. */
export async function run(args: string[]): Promise<number> {
  let help: boolean | undefined;
  try {
    ({ help } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, strict: true }).values);
  } catch (err) {
    // Loaded only here, so a plain `voidkey version` stays on node: built-ins.
    const { argsErrorMessage } = await import('./client/flags.ts');
    process.stderr.write(`voidkey: ${argsErrorMessage('version', err)}\n`);
    return 2;
  }
  if (help) {
    process.stdout.write('Usage: voidkey version\n\nPrints the version of this voidkey.\n');
    return 0;
  }
  process.stdout.write(`voidkey ${readPackageVersion()}\n`);
  return 0;
}
