/**
 * Environment variable names a credential output must never set: each changes
 * how a shell, the dynamic loader, a language runtime, git or the GitHub
 * Actions runner behaves, so a broker answer (or whoever answers at the broker
 * URL) setting one could run code on the client. The broker's config check and
 * every client output format use this one list.
 */

/** Names refused exactly (compared case-insensitively). */
export const DANGEROUS_ENV_NAMES: readonly string[] = [
  'BASH_ENV',
  'ENV',
  'PATH',
  'IFS',
  'PS4',
  'PROMPT_COMMAND',
  'SHELLOPTS',
  'BASHOPTS',
  'NODE_OPTIONS',
  'PYTHONPATH',
  'PYTHONSTARTUP',
  'PERL5OPT',
  'RUBYOPT',
  'JAVA_TOOL_OPTIONS',
];

/** Prefixes refused (compared case-insensitively): loader, git, and runner variables. */
export const DANGEROUS_ENV_PREFIXES: readonly string[] = ['LD_', 'DYLD_', 'GIT_', 'GITHUB_', 'RUNNER_'];

const EXACT = new Set(DANGEROUS_ENV_NAMES);

/** True when `name` is on the refused list (case-insensitive). */
export function isDangerousEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  return EXACT.has(upper) || DANGEROUS_ENV_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

/** One sentence naming the refused list, for error messages and docs. */
export const DANGEROUS_ENV_SUMMARY = `${DANGEROUS_ENV_NAMES.join(', ')} and names starting with ${DANGEROUS_ENV_PREFIXES.join(', ')}`;
