/**
 * Raw HTTP/1.1 over node:net, for what fetch cannot send: trickled heads,
 * oversized or malformed heads, arbitrary methods and request targets.
 */
import { connect } from 'node:net';

/** What came back on one connection. */
export interface RawExchange {
  /** Everything received, as latin1 text. */
  text: string;
  /** Status code of the first response line, or undefined when none came. */
  status: number | undefined;
  /** ms from connecting until the server closed the socket (or the wait ended). */
  elapsedMs: number;
  /** True when the server closed the socket before the wait ended. */
  closedByServer: boolean;
}

/** Options of {@link rawExchange}. */
export interface RawOptions {
  /** Sent one after another, `gapMs` apart. */
  chunks: Array<string | Buffer>;
  gapMs?: number;
  /** Stop waiting after this many ms (default 3000). */
  waitMs?: number;
  /** Resolve as soon as a complete response has arrived (default: wait for close). */
  untilResponse?: boolean;
  /** The response has no body whatever its Content-Length (a HEAD request). */
  headOnly?: boolean;
}

/** Sends `chunks` to 127.0.0.1:`port` and collects what comes back until close or `waitMs`. */
export function rawExchange(port: number, options: RawOptions): Promise<RawExchange> {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  return new Promise<RawExchange>((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({
        text,
        status: match ? Number(match[1]) : undefined,
        elapsedMs: Date.now() - started,
        closedByServer,
      });
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (!options.untilResponse) return;
      if (responseComplete(Buffer.concat(received).toString('latin1'), options.headOnly)) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    timer = setTimeout(() => finish(false), options.waitMs ?? 3000);
    void (async () => {
      for (const chunk of options.chunks) {
        if (done || socket.destroyed) return;
        socket.write(chunk);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
    })();
  });
}

/** True once `text` holds a response head and (unless `headOnly`) its Content-Length worth of body. */
function responseComplete(text: string, headOnly = false): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  if (headOnly) return true;
  const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
  return !length || text.length - end - 4 >= Number(length[1]);
}

/** The JSON body of a raw response (after the head), or undefined. */
export function rawBody(text: string): unknown {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** The value of header `name` in a raw response head, lower-cased name match. */
export function rawHeader(text: string, name: string): string | undefined {
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
