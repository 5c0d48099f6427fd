/**
 * `voidkey version`: the package version, read from package.json next to the
 * build, without loading anything else.
 */
import { readFileSync } from 'node:fs';

/** The package's version string. */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Prints `voidkey <version>`. */
export async function run(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write('Usage: voidkey version\n\nPrints the version of this voidkey.\n');
    return 0;
  }
  process.stdout.write(`voidkey ${packageVersion()}\n`);
  return 0;
}
