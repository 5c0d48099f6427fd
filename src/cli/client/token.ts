/**
 * Where the client's OIDC token comes from, first match wins: `--token`,
 * `--token-file`, `$VOIDKEY_OIDC_TOKEN`, then the GitHub Actions runner.
 */
import { readFile } from 'node:fs/promises';
import type { HttpClient } from '../../core/types.ts';
import type { BrokerClient } from './broker.ts';
import { safeText } from './broker-errors.ts';
import { CliError, EXIT, usageError } from './exit.ts';
import { type Deadline, transportFailure } from './transport.ts';

/** GitHub's OIDC issuer (named in the audience-mismatch hint). */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** A resolved token source. `get()` asks the runner again on every call; other sources are read once. */
export interface TokenSource {
  /** Where the token comes from, for messages. */
  origin: string;
  get(): Promise<string>;
}

/** What resolving a token may need. */
export interface TokenContext {
  env: NodeJS.ProcessEnv;
  http: HttpClient;
  deadline: Deadline;
  broker: BrokerClient;
  /** `--audience`, if given. */
  audience: string | undefined;
  userAgent: string;
  /** Every secret learnt is added here so that no error line can carry it. */
  secrets: string[];
}

/** Picks the token source from flags and environment; throws exit 2 when there is none. */
export async function resolveTokenSource(
  flags: { token?: string; 'token-file'?: string },
  ctx: TokenContext,
): Promise<TokenSource> {
  if (flags.token !== undefined && flags['token-file'] !== undefined) {
    throw usageError('--token and --token-file are mutually exclusive');
  }
  if (flags.token !== undefined) return fixed(flags.token, '--token', ctx);
  const file = flags['token-file'];
  if (file !== undefined) return fixed(await readTokenFile(file), `--token-file ${file}`, ctx);
  const fromEnv = ctx.env.VOIDKEY_OIDC_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fixed(fromEnv, 'VOIDKEY_OIDC_TOKEN', ctx);
  const url = ctx.env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = ctx.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (url && requestToken) return runnerSource(url, requestToken, ctx);
  if (ctx.env.GITHUB_ACTIONS === 'true') {
    throw usageError(
      'no OIDC token: ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; grant the job `permissions: id-token: write`',
    );
  }
  throw usageError(
    'no OIDC token: pass --token or --token-file, set VOIDKEY_OIDC_TOKEN, or run in GitHub Actions with `permissions: id-token: write`',
  );
}

function fixed(token: string, origin: string, ctx: TokenContext): TokenSource {
  if (token.trim() === '') throw usageError(`the token from ${origin} is empty`);
  ctx.secrets.push(token);
  return { origin, get: async () => token };
}

/** Reads a token file, trimming one trailing newline (LF or CRLF). */
export async function readTokenFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw usageError(`cannot read --token-file ${path} (${(err as { code?: string }).code ?? 'error'})`);
  }
}

function runnerSource(url: string, requestToken: string, ctx: TokenContext): TokenSource {
  ctx.secrets.push(requestToken);
  // Never an audience named by the broker's unauthenticated answer: whoever answers at the
  // broker URL could otherwise obtain a runner token meant for another relying party.
  const audience = ctx.audience ?? new URL(ctx.broker.base).origin;
  ctx.broker.audienceHint = () => audienceHint(ctx.broker, audience);
  return {
    origin: 'the GitHub Actions runner',
    get: async () => {
      const token = await requestRunnerToken(url, requestToken, audience, ctx);
      ctx.secrets.push(token);
      return token;
    },
  };
}

/** After a 401 audience_mismatch: the audience the broker says it expects, and how to ask for it. */
async function audienceHint(broker: BrokerClient, requested: string): Promise<string> {
  const providers = await broker.idpProviders();
  const expected = providers.find((p) => p.issuer === GITHUB_ISSUER)?.audience;
  const how = 'pass --audience (or set VOIDKEY_AUDIENCE, or the action input `audience`)';
  if (expected === undefined || expected === '') {
    return `the runner token was requested for audience '${safeText(requested)}' and the broker lists no audience for ${GITHUB_ISSUER}; ${how} with the audience its config expects`;
  }
  return `the runner token was requested for audience '${safeText(requested)}' but the broker expects '${safeText(expected)}' for ${GITHUB_ISSUER}; ${how}: --audience '${safeText(expected)}'`;
}

/** `GET <url>&audience=<aud>` with the runner's request token → `{"value": token}`. */
async function requestRunnerToken(url: string, requestToken: string, audience: string, ctx: TokenContext) {
  const what = 'the GitHub Actions runner token endpoint';
  const timeoutMs = ctx.deadline.remaining();
  if (timeoutMs <= 0) throw ctx.deadline.expired(what, EXIT.AUTH);
  const full = `${url}${url.includes('?') ? '&' : '?'}audience=${encodeURIComponent(audience)}`;
  const headers = {
    authorization: `Bearer ${requestToken}`,
    accept: 'application/json',
    'user-agent': ctx.userAgent,
  };
  let res: Awaited<ReturnType<HttpClient>>;
  try {
    res = await ctx.http(full, { method: 'GET', headers, timeoutMs, maxBytes: 64 * 1024 });
  } catch (err) {
    throw transportFailure(err, what, ctx.deadline, EXIT.AUTH);
  }
  if (res.status !== 200) {
    throw new CliError(
      EXIT.AUTH,
      `the GitHub Actions runner refused to issue an OIDC token (HTTP ${res.status})`,
    );
  }
  let value: unknown;
  try {
    value = (JSON.parse(res.body.toString('utf8')) as { value?: unknown }).value;
  } catch {
    // Reported below.
  }
  if (typeof value !== 'string' || value === '') {
    throw new CliError(EXIT.AUTH, 'the GitHub Actions runner answered without a token');
  }
  return value;
}
