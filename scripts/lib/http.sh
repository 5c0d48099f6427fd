# shellcheck shell=bash
# shellcheck disable=SC2154 # URL, TIMEOUT and INSECURE are set by the sourcing script
# Sourced by smoke-tests.sh and integration-tests.sh: requests to the broker
# with curl, or with node's fetch (Node >= 18) when curl is missing. The
# caller sets URL, TIMEOUT (seconds) and INSECURE (1: accept a self-signed
# certificate), calls make_work_dir and writes the request headers to
# $WORK/req-headers.

# make_work_dir: sets WORK to a new directory only this user can read, removed on exit.
make_work_dir() {
  WORK="$(umask 077 && mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
}

# http METHOD PATH [BODY]: sets STATUS (000 when nothing answered, why in
# $WORK/err); the body lands in $WORK/body, without line breaks in
# $WORK/flat, and the response headers in $WORK/headers.
http() {
  local method="$1" path="$2" body="${3:-}"
  : >"$WORK/body"
  : >"$WORK/headers"
  printf '%s' "$body" >"$WORK/req-body"
  if command -v curl >/dev/null 2>&1; then
    local args=(-sS -o "$WORK/body" -D "$WORK/headers.raw" -w '%{http_code}' --max-time "$TIMEOUT"
      -X "$method" -H @"$WORK/req-headers")
    [ "$INSECURE" = 1 ] && args+=(-k)
    [ -n "$body" ] && args+=(--data-binary @"$WORK/req-body")
    : >"$WORK/headers.raw"
    STATUS="$(curl "${args[@]}" "$URL$path" 2>"$WORK/err")" || STATUS=000
    tr -d '\r' <"$WORK/headers.raw" >"$WORK/headers"
  elif command -v node >/dev/null 2>&1; then
    STATUS="$(node_request "$method" "$URL$path")" || STATUS=000
  else
    echo "FAIL - neither curl nor node is installed" >&2
    exit 1
  fi
  tr -d '\r\n' <"$WORK/body" >"$WORK/flat"
}

# The node fallback: the same request with fetch.
node_request() {
  REQ_METHOD="$1" REQ_URL="$2" REQ_DIR="$WORK" REQ_TIMEOUT="$TIMEOUT" \
    NODE_TLS_REJECT_UNAUTHORIZED="$([ "$INSECURE" = 1 ] && echo 0 || echo 1)" NODE_NO_WARNINGS=1 \
    node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
const dir = process.env.REQ_DIR;
const headers = {};
for (const line of readFileSync(`${dir}/req-headers`, "utf8").split("\n")) {
  const i = line.indexOf(":");
  if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
}
const body = readFileSync(`${dir}/req-body`);
try {
  const res = await fetch(process.env.REQ_URL, {
    method: process.env.REQ_METHOD, headers, redirect: "manual",
    body: body.length > 0 ? body : undefined,
    signal: AbortSignal.timeout(Number(process.env.REQ_TIMEOUT) * 1000),
  });
  writeFileSync(`${dir}/body`, Buffer.from(await res.arrayBuffer()));
  writeFileSync(`${dir}/headers`, [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n") + "\n");
  process.stdout.write(String(res.status));
} catch (err) {
  writeFileSync(`${dir}/err`, String(err?.cause?.message ?? err?.message ?? err));
  process.stdout.write("000");
}' 2>>"$WORK/err"
}

# After http: when nothing answered, says why and ends the run (exit 1).
reachable_or_exit() {
  if [ "$STATUS" = 000 ]; then
    echo "FAIL - cannot reach $URL: $(head -c 300 "$WORK/err" | tr '\n' ' ')"
    exit 1
  fi
}

# Whether the flattened body matches an extended regex.
body_has() { grep -Eq "$1" "$WORK/flat"; }
