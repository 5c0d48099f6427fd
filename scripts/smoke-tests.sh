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
# shellcheck source-path=SCRIPTDIR source=lib/broker-url.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/broker-url.sh"
# shellcheck source-path=SCRIPTDIR source=lib/http.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/http.sh"
resolve_broker_url "$URL"
case "$TIMEOUT$WAIT" in *[!0-9]*) die_usage "--timeout and --wait take whole seconds" ;; esac

make_work_dir
: >"$WORK/req-headers"

FAILURES=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok   - $1"; }
fail() { CHECKS=$((CHECKS + 1)); FAILURES=$((FAILURES + 1)); echo "FAIL - $1"; }
header_has() { grep -Eiq "$1" "$WORK/headers"; }

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
