/**
 * A recording proxy in front of the STS peer (src/dev/sts-server.ts). The
 * broker talks to the proxy; the proxy forwards AWS Query/XML requests
 * unchanged and keeps what went through (role, session name, the broker's
 * web-identity token, the status and the credentials STS issued). It can
 * also hold calls (to observe concurrency) and be down (its listener closed:
 * connection refused). Refusals and throttling come from the STS peer itself.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One AssumeRole* call that reached the proxy. */
export interface StsCall {
  action: string;
  roleArn: string;
  roleSessionName: string;
  durationSeconds: number | undefined;
  webIdentityToken: string | undefined;
  /** Session tags sent (`Tags.member.N.Key` / `.Value`), by key. */
  tags: Record<string, string>;
  status: number;
  /** Parsed from a successful answer. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string };
}

/** The proxy and its controls. */
export interface StsProxy {
  url: string;
  calls: StsCall[];
  /** Milliseconds every forwarded call is held before it goes upstream (to observe concurrency). */
  latencyMs: number;
  /** Most calls that were in the proxy at once (assign 0 to reset). */
  maxInFlight: number;
  /** Close (true) or reopen (false) the listening socket on the same port. */
  setDown(down: boolean): Promise<void>;
  close(): Promise<void>;
}

function tag(xml: string, name: string): string {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

function forward(upstream: URL, req: IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const out = request(
      upstream,
      // Host is kept: SigV4 (the assumeRole hop) signs it, as a real forward proxy would leave it.
      { method: req.method, path: req.url, headers: req.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = { 'content-type': 'text/xml' };
          const id = res.headers['x-amzn-requestid'];
          if (typeof id === 'string') headers['x-amzn-requestid'] = id;
          resolve({ status: res.statusCode ?? 502, headers, text: Buffer.concat(chunks).toString() });
        });
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

function toCall(form: URLSearchParams, status: number, xml: string): StsCall {
  const duration = form.get('DurationSeconds');
  const call: StsCall = {
    action: form.get('Action') ?? '',
    roleArn: form.get('RoleArn') ?? '',
    roleSessionName: form.get('RoleSessionName') ?? '',
    durationSeconds: duration === null ? undefined : Number(duration),
    webIdentityToken: form.get('WebIdentityToken') ?? undefined,
    tags: {},
    status,
  };
  for (let n = 1; form.has(`Tags.member.${n}.Key`); n++) {
    call.tags[form.get(`Tags.member.${n}.Key`) as string] = form.get(`Tags.member.${n}.Value`) ?? '';
  }
  if (status === 200) {
    call.credentials = {
      accessKeyId: tag(xml, 'AccessKeyId'),
      secretAccessKey: tag(xml, 'SecretAccessKey'),
      sessionToken: tag(xml, 'SessionToken'),
      expiration: tag(xml, 'Expiration'),
    };
  }
  return call;
}

/** Starts the proxy on 127.0.0.1:0 in front of `upstreamUrl` (the STS peer). */
export async function startStsProxy(upstreamUrl: string): Promise<StsProxy> {
  const upstream = new URL(upstreamUrl);
  const calls: StsCall[] = [];
  let inFlight = 0;
  const state = { latencyMs: 0, maxInFlight: 0 };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      await respond(req, res, body);
    } finally {
      inFlight -= 1;
    }
  }

  async function respond(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const form = new URLSearchParams(body.toString());
    if (state.latencyMs > 0) await new Promise((r) => setTimeout(r, state.latencyMs));
    const answer = await forward(upstream, req, body);
    calls.push(toCall(form, answer.status, answer.text));
    res.writeHead(answer.status, answer.headers).end(answer.text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(ms: number) {
      state.latencyMs = ms;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    set maxInFlight(n: number) {
      state.maxInFlight = n;
    },
    setDown: async (down) => {
      if (down) return close();
      if (!server.listening) await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close,
  };
}
