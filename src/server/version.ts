/** The broker's version, as `/health`, the startup line and `voidkey_build_info` report it. */
import { readFileSync } from 'node:fs';

let version: string | undefined;

/** The `version` of package.json (same relative path from src/ and dist/), read once. */
export function readPackageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return version;
}
