/**
 * `--output github`: masks the secret values in the job log, then exports
 * each variable to later steps through the file named by $GITHUB_ENV.
 */
import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { CliError, EXIT, usageError } from './exit.ts';
import { flattenVariables, type Minted } from './formats.ts';

/**
 * Variables whose values the job log may show. A mint answer names each
 * variable but not whether its value came from a provider's secret field or
 * is a literal of the broker config, so every other value is masked (a secret
 * under a custom name stays hidden). These are the providers' non-secret
 * default outputs (expiries) and the usual literals: regions and project,
 * tenant, client and subscription identifiers. Masking them would replace
 * every `us-east-1` in the log with `***`. docs/cli.md lists them.
 */
export const UNMASKED_VARIABLES: ReadonlySet<string> = new Set([
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'MINIO_REGION',
  'GOOGLE_CLOUD_PROJECT',
  'CLOUDSDK_CORE_PROJECT',
  'GOOGLE_TOKEN_EXPIRY',
  'AZURE_TOKEN_EXPIRY',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_SUBSCRIPTION_ID',
]);

/** Checked before minting, so nothing is minted that could not be exported. */
export function requireGithubEnv(env: NodeJS.ProcessEnv): string {
  const file = env.GITHUB_ENV;
  if (file === undefined || file === '') {
    throw usageError('--output github needs $GITHUB_ENV (it is set inside GitHub Actions steps)');
  }
  return file;
}

/** Escapes a workflow-command value: `%`, CR and LF. */
export function escapeCommandValue(value: string): string {
  return value.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}

/**
 * `::add-mask::` lines for a value: the whole value, and for a multi-line
 * value each non-empty line too, since the runner matches log lines one by one.
 */
export function maskLines(value: string): string[] {
  if (value === '') return [];
  const lines = [`::add-mask::${escapeCommandValue(value)}\n`];
  if (/[\r\n]/.test(value)) {
    for (const line of value.split(/\r\n|\r|\n/)) {
      if (line.trim() !== '') lines.push(`::add-mask::${escapeCommandValue(line)}\n`);
    }
  }
  return lines;
}

/** One `NAME<<DELIM` block, DELIM random and absent from the value. */
export function envFileBlock(name: string, value: string): string {
  let delimiter = `ghadelimiter_${randomUUID()}`;
  while (value.includes(delimiter)) delimiter = `ghadelimiter_${randomUUID()}`;
  return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
}

/**
 * Returns the mask lines for stdout and appends the variables to `githubEnv`.
 * Masks are returned (to be printed first) before anything reaches the file.
 */
export async function exportToGithub(
  minted: Minted,
  githubEnv: string,
  write: (text: string) => void,
): Promise<string[]> {
  const variables = flattenVariables(minted, 'github');
  for (const [name, value] of variables) {
    if (value.includes('\0'))
      throw new CliError(EXIT.OUTPUT, `variable ${name} holds a NUL byte, which $GITHUB_ENV cannot carry`);
  }
  const secret = variables.filter(([name]) => !UNMASKED_VARIABLES.has(name));
  write(secret.flatMap(([, value]) => maskLines(value)).join(''));
  const blocks = variables.map(([name, value]) => envFileBlock(name, value)).join('');
  try {
    await appendFile(githubEnv, blocks, { encoding: 'utf8' });
  } catch (err) {
    throw new CliError(
      EXIT.OUTPUT,
      `cannot append to $GITHUB_ENV ${githubEnv} (${(err as { code?: string }).code ?? 'error'})`,
    );
  }
  return variables.map(([name]) => name);
}
