#!/usr/bin/env bash
# Smoke tests for a deployed Voidkey broker: health, the IdP provider list, and
# a bad token refused. Needs curl, or node (>= 18) when curl is missing.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/smoke-tests.sh [options] URL|ENVIRONMENT

Checks a running broker at URL (or $VOIDKEY_BROKER_URL):
  GET  /health                  200, status healthy or degraded
  GET  /health/live             200
  GET  /health/ready            200
  GET  /credentials/idp-providers  200, JSON with a "providers" array
  POST /credentials/mint        with a bad token: 401 INVALID_TOKEN,
                                WWW-Authenticate: Bearer, X-Request-ID,
                                Cache-Control: no-store
Exits 0 when every check passes, 1 when one fails, 2 on usage errors.

ENVIRONMENT is a name such as staging or production instead of a URL: its URL
comes from $VOIDKEY_URL_<ENVIRONMENT> (upper-cased, "-" as "_"), else from a
"NAME=URL" line of deploy/environments.env (or $VOIDKEY_ENVIRONMENTS_FILE).

Options:
  --timeout SECONDS   per-request timeout (default 10, or $SMOKE_TIMEOUT)
  --wait SECONDS      first wait up to SECONDS for /health/ready to answer 200
  -k, --insecure      accept a self-signed TLS certificate
  -h, --help          show this help
EOF
}

die_usage() {
  echo "smoke-tests: $1" >&2
  echo "Run 'scripts/smoke-tests.sh --help' for usage." >&2
  exit 2
}

TIMEOUT="${SMOKE_TIMEOUT:-10}"
WAIT=0
INSECURE=0
URL="${VOIDKEY_BROKER_URL:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --timeout) [ $# -ge 2 ] || die_usage "--timeout needs a value"; TIMEOUT="$2"; shift 2 ;;
    --wait) [ $# -ge 2 ] || die_usage "--wait needs a value"; WAIT="$2"; shift 2 ;;
    -k | --insecure) INSECURE=1; shift ;;
    -*) die_usage "unknown option $1" ;;
    *) URL="$1"; shift ;;
  esac
done
[ -n "$URL" ] || die_usage "no broker URL given"
# shellcheck source-path=SCRIPTDIR source=lib/broker-url.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/broker-url.sh"
resolve_broker_url "$URL"
case "$TIMEOUT$WAIT" in *[!0-9]*) die_usage "--timeout and --wait take whole seconds" ;; esac

WORK="$(umask 077 && mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
: >"$WORK/req-headers"

# http METHOD PATH [BODY]: sets STATUS; the body lands in $WORK/body and the
# response headers in $WORK/headers.
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

# The node fallback: the same request with fetch (Node >= 18).
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

FAILURES=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok   - $1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); echo "FAIL - $1"; }
body_has() { grep -Eq "$1" "$WORK/flat"; }
header_has() { grep -Eiq "$1" "$WORK/headers"; }

reachable_or_exit() {
  if [ "$STATUS" = 000 ]; then
    fail "cannot reach $URL: $(head -c 300 "$WORK/err" | tr '\n' ' ')"
    exit 1
  fi
}

wait_ready() {
  local deadline=$((SECONDS + WAIT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    http GET /health/ready
    [ "$STATUS" = 200 ] && return 0
    sleep 2
  done
  echo "note - /health/ready did not answer 200 within ${WAIT}s; running the checks anyway"
}

check_health() {
  http GET /health
  reachable_or_exit
  if [ "$STATUS" = 200 ] && body_has '"status" *: *"healthy"'; then
    ok "GET /health -> 200 healthy"
  elif [ "$STATUS" = 200 ] && body_has '"status" *: *"degraded"'; then
    ok "GET /health -> 200 degraded (an IdP or provider is failing; see its checks)"
  else
    fail "GET /health -> $STATUS, expected 200 with status healthy or degraded"
  fi
}

check_status() {
  http GET "$1"
  reachable_or_exit
  if [ "$STATUS" = "$2" ]; then ok "GET $1 -> $STATUS"; else fail "GET $1 -> $STATUS, expected $2"; fi
}

check_providers() {
  http GET /credentials/idp-providers
  reachable_or_exit
  if [ "$STATUS" != 200 ]; then
    fail "GET /credentials/idp-providers -> $STATUS, expected 200"
  elif ! body_has '^ *\{.*"providers" *: *\['; then
    fail "GET /credentials/idp-providers: no \"providers\" array in the JSON body"
  else
    local n
    n="$(grep -o '"issuer" *:' "$WORK/flat" | wc -l | tr -d ' ')"
    ok "GET /credentials/idp-providers -> 200, $n provider(s)"
  fi
}

check_bad_token() {
  printf 'Authorization: Bearer not-a-jwt\nContent-Type: application/json\n' >"$WORK/req-headers"
  http POST /credentials/mint '{"keys":["SMOKE_TEST"]}'
  : >"$WORK/req-headers"
  reachable_or_exit
  local what="POST /credentials/mint with a bad token"
  if [ "$STATUS" != 401 ]; then
    fail "$what -> $STATUS, expected 401"
  elif ! body_has '"error" *: *"INVALID_TOKEN"'; then
    fail "$what -> 401 without error INVALID_TOKEN"
  elif ! header_has '^www-authenticate: *Bearer'; then
    fail "$what -> 401 without a WWW-Authenticate: Bearer header"
  elif ! header_has '^x-request-id: *[A-Za-z0-9._:-]+'; then
    fail "$what -> 401 without an X-Request-ID header"
  elif ! header_has '^cache-control:.*no-store'; then
    fail "$what -> 401 without Cache-Control: no-store"
  else
    ok "$what -> 401 INVALID_TOKEN with WWW-Authenticate: Bearer"
  fi
}

echo "Smoke-testing $URL${URL_SOURCE:+ ($URL_SOURCE)}"
[ "$WAIT" -gt 0 ] && wait_ready
check_health
check_status /health/live 200
check_status /health/ready 200
check_providers
check_bad_token

if [ "$FAILURES" -gt 0 ]; then
  echo "smoke tests FAILED: $FAILURES of $CHECKS checks failed against $URL"
  exit 1
fi
echo "smoke tests passed: $CHECKS checks against $URL"
