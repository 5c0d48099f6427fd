/**
 * The client side of `voidkey dev token`: finds the running sandbox through
 * its state file and asks its loopback endpoint for a client token. Kept apart
 * from the sandbox so the command loads neither fastify nor the AWS SDK.
 */
import { defaultStateFile, processAlive, readState, SandboxError } from './state.ts';

/** What `voidkey dev token` asks for. */
export interface DevTokenRequest {
  sub: string;
  /** Default: the audience the sandbox's client IdP expects. */
  aud?: string;
  /** Seconds; default 3600. */
  ttlSeconds?: number;
  /** Default {@link defaultStateFile}. */
  stateFile?: string;
}

const NOT_RUNNING = "no running voidkey dev sandbox found; start one with 'npx voidkey dev'";

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
  const state = await readState(request.stateFile ?? defaultStateFile());
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
