/**
 * The client side of `voidkey dev token`: finds the running sandbox through
 * its state file and asks its loopback endpoint for a client token. Kept apart
 * from the sandbox so the command loads neither fastify nor the AWS SDK.
 */
import { defaultStateFile, listStateFiles, processAlive, readState, SandboxError } from './state.ts';

/** What `voidkey dev token` asks for. */
export interface DevTokenRequest {
  sub: string;
  /** Default: the audience the sandbox's client IdP expects. */
  aud?: string;
  /** Seconds; default 3600. */
  ttlSeconds?: number;
  /** The running sandbox's state file (see {@link findStateFile}). */
  stateFile: string;
}

const NOT_RUNNING =
  "no running voidkey dev sandbox found; start one with 'voidkey dev' (or 'npm start' in the checkout)";

/**
 * Which sandbox `dev token` talks to: the one on `port`, else the one whose
 * broker `brokerUrl` ($VOIDKEY_BROKER_URL, as the sandbox printed it) names,
 * else the only one running. Several running and none chosen is an error.
 */
export async function findStateFile(
  port: number | undefined,
  brokerUrl: string | undefined,
): Promise<string> {
  if (port !== undefined) return defaultStateFile(port);
  const fromUrl = loopbackPort(brokerUrl);
  if (fromUrl !== undefined) return defaultStateFile(fromUrl);
  const running: Array<{ file: string; port: string }> = [];
  for (const file of await listStateFiles()) {
    const state = await readState(file).catch(() => undefined);
    if (state !== undefined && processAlive(state.pid)) {
      running.push({ file, port: /(\d+)\.json$/.exec(file)?.[1] ?? '?' });
    }
  }
  if (running.length === 0) throw new SandboxError(NOT_RUNNING);
  if (running.length > 1) {
    throw new SandboxError(
      `several voidkey dev sandboxes are running (broker ports ${running.map((r) => r.port).join(', ')}); set VOIDKEY_BROKER_URL to the one you mean or pass --port N`,
    );
  }
  return (running[0] as { file: string }).file;
}

function loopbackPort(url: string | undefined): number | undefined {
  if (url === undefined || url === '' || !isLoopbackUrl(url)) return undefined;
  const { port } = new URL(url);
  return port === '' ? 80 : Number(port);
}

function isLoopbackUrl(url: string): boolean {
  try {
    const { protocol, hostname } = new URL(url);
    return protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  } catch {
    return false;
  }
}

/** Mints a client token through the running sandbox; throws SandboxError with a one-line reason. */
export async function requestDevToken(request: DevTokenRequest): Promise<string> {
  const state = await readState(request.stateFile);
  if (state === undefined || !processAlive(state.pid)) throw new SandboxError(NOT_RUNNING);
  if (!isLoopbackUrl(state.devTokenEndpoint)) {
    throw new SandboxError('the sandbox state file names a non-loopback endpoint; refusing to use it');
  }
  let res: Response;
  try {
    res = await fetch(state.devTokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${state.mintSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        sub: request.sub,
        aud: request.aud ?? state.audience,
        ...(request.ttlSeconds === undefined ? {} : { ttl: request.ttlSeconds }),
      }),
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    throw new SandboxError(NOT_RUNNING, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status !== 200 || typeof body.token !== 'string') {
    const why = typeof body.error_description === 'string' ? body.error_description : `HTTP ${res.status}`;
    throw new SandboxError(`the sandbox refused to mint a token: ${why}`);
  }
  return body.token;
}
