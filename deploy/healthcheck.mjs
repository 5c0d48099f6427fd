// Container HEALTHCHECK: exit 0 when GET /health/live answers 2xx within the
// timeout, 1 otherwise. Uses only Node built-ins (slim images have no curl).
const port = process.env.PORT || '3000';
const url = process.env.VOIDKEY_HEALTHCHECK_URL || `http://127.0.0.1:${port}/health/live`;
const timeoutMs = Number(process.env.VOIDKEY_HEALTHCHECK_TIMEOUT_MS || 4000);

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  await res.body?.cancel();
  process.exitCode = res.ok ? 0 : 1;
  if (!res.ok) process.stderr.write(`healthcheck: ${url} answered ${res.status}\n`);
} catch (err) {
  process.stderr.write(`healthcheck: ${url} unreachable: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
