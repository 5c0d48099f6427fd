/**
 * `voidkey dev`: starts the development issuer, the STS peer trusting it for
 * the broker's audience, and the broker on a generated config, all on
 * 127.0.0.1; records where `voidkey dev token` can reach it; and tears it all
 * down again. Only runtime dependencies, so it runs from an installed package.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadConfig } from '../core/config/index.ts';
import type { LoggingConfig } from '../core/config/schema.ts';
import { createLogger, startBroker } from '../server/main.ts';
import { type DevIssuer, startDevIssuer } from './issuer.ts';
import {
  DEV_BROKER_CLIENT_ID,
  DEV_CLIENT_AUDIENCE,
  DEV_STS_AUDIENCE,
  DEV_SUBJECT,
  writeDevConfig,
} from './sandbox/config.ts';
import { defaultStateFile, removeState, SandboxError, writeState } from './sandbox/state.ts';
import { startStsServer } from './sts-server.ts';

export { requestDevToken } from './sandbox/client.ts';
export { DEV_CI_SUBJECT, DEV_CLIENT_AUDIENCE, DEV_SUBJECT } from './sandbox/config.ts';
export { defaultStateFile, SandboxError } from './sandbox/state.ts';

const HOST = '127.0.0.1';
/** Lifetime of the token printed at start, seconds. */
export const PRINTED_TOKEN_TTL = 3600;

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** Broker port; default 3000 (0: any free port). The issuer and STS peer take free ports. */
  port?: number;
  /** Issuer port; default 0 (any free port). */
  issuerPort?: number;
  /** STS endpoint port; default 0 (any free port). */
  stsPort?: number;
  /** Where to record the running sandbox; default {@link defaultStateFile} for the broker's port. */
  stateFile?: string;
}

/** A running sandbox. */
export interface Sandbox {
  brokerUrl: string;
  issuer: DevIssuer;
  stsUrl: string;
  /** The generated config (deleted on close). */
  configPath: string;
  stateFile: string;
  /** The loader's warnings about the generated config (e.g. insecure issuers). */
  warnings: string[];
  /** A client token for {@link DEV_SUBJECT}, valid {@link PRINTED_TOKEN_TTL} seconds. */
  token: string;
  close(): Promise<void>;
}

type Closer = () => Promise<unknown>;

async function closeAll(closers: Closer[]): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
}

function portInUse(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === 'EADDRINUSE') return true;
  }
  return false;
}

async function startBrokerOn(configPath: string, port: number) {
  const { config, policy, warnings } = await loadConfig({ path: configPath, env: process.env });
  // The broker's log lines go to stderr: stdout carries only the instructions to paste.
  const logger = createLogger(config.logging as LoggingConfig, process.stderr);
  try {
    const broker = await startBroker({ config, policy, configPath, host: HOST, port, logger });
    return { broker, warnings };
  } catch (err) {
    if (portInUse(err)) {
      throw new SandboxError(`port ${port} on ${HOST} is already in use; choose another with --port N`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** Starts issuer, STS peer and broker (broker on `port`, default 3000) and writes the state file. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const port = options.port ?? 3000;
  const brokerClientSecret = randomBytes(32).toString('base64url');
  const mintSecret = randomBytes(32).toString('base64url');
  const closers: Closer[] = [];
  try {
    const issuer = await startDevIssuer({
      host: HOST,
      port: options.issuerPort ?? 0,
      clients: [{ clientId: DEV_BROKER_CLIENT_ID, clientSecret: brokerClientSecret }],
      mintSecret,
    });
    closers.push(() => issuer.close());
    const sts = await startStsServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audience: DEV_STS_AUDIENCE,
      host: HOST,
      port: options.stsPort ?? 0,
    });
    closers.push(() => sts.close());
    const configPath = await writeDevConfig({
      brokerPort: port,
      issuer: issuer.issuer,
      stsUrl: sts.url,
      brokerClientSecret,
    });
    closers.push(() => rm(dirname(configPath), { recursive: true, force: true }));
    const { broker, warnings } = await startBrokerOn(configPath, port);
    closers.push(() => broker.close());
    const brokerUrl = broker.url.replace(/\/+$/, '');
    // One state file per broker port: two sandboxes never take each other's.
    const stateFile = options.stateFile ?? defaultStateFile(Number(new URL(brokerUrl).port));
    await writeState(stateFile, {
      version: 1,
      pid: process.pid,
      brokerUrl,
      issuer: issuer.issuer,
      devTokenEndpoint: String(issuer.devTokenEndpoint),
      mintSecret,
      audience: DEV_CLIENT_AUDIENCE,
      configPath,
      startedAt: new Date().toISOString(),
    });
    closers.push(() => removeState(stateFile, mintSecret));
    const token = await issuer.mintClientToken({
      sub: DEV_SUBJECT,
      aud: DEV_CLIENT_AUDIENCE,
      ttlSeconds: PRINTED_TOKEN_TTL,
    });
    const close = () => closeAll(closers.splice(0));
    return { brokerUrl, issuer, stsUrl: sts.url, configPath, stateFile, warnings, token, close };
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}
