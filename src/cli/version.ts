/**
 * `voidkey version`: the package version, from the broker's one version
 * reader (which loads nothing else).
 */
import { readPackageVersion } from '../server/version.ts';

/** Prints `voidkey <version>`. */
export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: voidkey version\n\nPrints the version of this voidkey.\n');
    return 0;
  }
  process.stdout.write(`voidkey ${readPackageVersion()}\n`);
  return 0;
}
