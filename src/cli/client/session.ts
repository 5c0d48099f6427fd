/**
 * What a client command needs once its flags are parsed: the deadline, the
 * transport, a broker client and the token source.
 */
import { readPackageVersion } from '../../server/version.ts';
import { BrokerClient } from './broker.ts';
import type { GlobalFlags } from './flags.ts';
import type { Settings } from './settings.ts';
import { resolveTokenSource, type TokenSource } from './token.ts';
import { createTransport, Deadline } from './transport.ts';

/** One command run's connection to the broker. */
export interface Session {
  broker: BrokerClient;
  tokens: TokenSource;
  deadline: Deadline;
  close(): Promise<void>;
}

/**
 * Resolves the token source (failing fast, before any network, when there is
 * none) and prepares the broker client under one deadline of `settings.timeoutMs`.
 */
export async function openSession(
  flags: GlobalFlags,
  settings: Settings,
  env: NodeJS.ProcessEnv,
  secrets: string[],
): Promise<Session> {
  const deadline = new Deadline(settings.timeoutMs);
  const transport = await createTransport(env);
  const userAgent = `voidkey-cli/${readPackageVersion()}`;
  const broker = new BrokerClient(settings.brokerUrl, transport.http, deadline, userAgent);
  try {
    const tokens = await resolveTokenSource(flags, {
      env,
      http: transport.http,
      deadline,
      broker,
      audience: settings.audience,
      userAgent,
      secrets,
    });
    return { broker, tokens, deadline, close: transport.close };
  } catch (err) {
    await transport.close();
    throw err;
  }
}

/** Writes one warning line to stderr, prefixed like every other message. */
export function warn(line: string): void {
  process.stderr.write(`voidkey: ${line}\n`);
}
