/** A small HTTP client for the broker's API in e2e tests. */

/** One answer: status, headers, and the body parsed as JSON when it is JSON. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON shapes
  body: any;
  text: string;
}

/** Options of `api()`: a bearer token, a JSON body (or a raw string), extra headers. */
export interface ApiOptions {
  token?: string;
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

/** Calls `baseUrl + path` with `method`; never throws on a non-2xx status. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  options: ApiOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.raw;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(20000) });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Asserts nothing; returns true when `value` is an ISO-8601 UTC timestamp that `Date` parses back exactly. */
export function isIsoTimestamp(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const t = Date.parse(value);
  return Number.isFinite(t) && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(value);
}
