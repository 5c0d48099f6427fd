/**
 * Resolves what every client command needs, with the precedence
 * flag > environment > config file > default.
 */
import { isIP } from 'node:net';
import { type ClientConfig, loadClientConfig } from './config-file.ts';
import { usageError } from './exit.ts';
import { type GlobalFlags, parseTimeout } from './flags.ts';

/** The resolved common settings of one command run. */
export interface Settings {
  /** Normalised broker base URL, without a trailing slash. */
  brokerUrl: string;
  /** The one overall deadline of the command, ms. */
  timeoutMs: number;
  audience: string | undefined;
  config: ClientConfig;
}

/** Reads the config file and resolves the broker URL, timeout and audience. */
export async function resolveSettings(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<Settings> {
  const timeoutMs = parseTimeout(flags.timeout);
  const config = await loadClientConfig(flags.config);
  const raw = flags['broker-url'] ?? nonEmpty(env.VOIDKEY_BROKER_URL) ?? config.broker_url;
  if (raw === undefined) {
    throw usageError(
      'no broker URL: pass --broker-url, set VOIDKEY_BROKER_URL, or set broker_url in ~/.voidkey/config.yaml',
    );
  }
  const brokerUrl = normaliseBrokerUrl(raw);
  if (brokerUrl.startsWith('http:') && !isLoopback(new URL(brokerUrl).hostname)) {
    // The token would travel in clear, and any answer there could be anyone's.
    if (flags['allow-insecure'] !== true) {
      throw usageError(
        `the broker URL ${brokerUrl} is plain http to a host other than this machine: the token would travel unencrypted; use https, or pass --allow-insecure`,
      );
    }
    warn(
      `warning: the broker URL ${brokerUrl} is plain http to a non-loopback host (--allow-insecure); tokens and credentials travel unencrypted`,
    );
  }
  if (flags.audience !== undefined && flags.audience.trim() === '') {
    throw usageError('--audience must not be empty');
  }
  const audience = flags.audience ?? nonEmpty(env.VOIDKEY_AUDIENCE) ?? nonEmpty(config.audience);
  return { brokerUrl, timeoutMs, audience, config };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Checks a broker URL is http(s) without credentials, query or fragment; drops trailing slashes. */
export function normaliseBrokerUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw usageError(`the broker URL '${raw.slice(0, 80)}' is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usageError(
      `the broker URL must start with https:// (or http:// for local use), got ${url.protocol}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw usageError('the broker URL must not carry a user name or password');
  }
  if (url.search !== '' || url.hash !== '') {
    throw usageError('the broker URL must not carry a query string or fragment');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** Whether a URL host is this machine (localhost, 127.0.0.0/8, ::1). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
