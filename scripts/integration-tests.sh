#!/usr/bin/env bash
# Integration test against a deployed Voidkey broker: one real mint with a
# client token. Prints no token and no credential, ever: response bodies stay
# in a private temp directory that is removed on exit. Needs curl, or node
# (>= 18) when curl is missing.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/integration-tests.sh [options] URL|ENVIRONMENT

Mints credentials from the broker at URL (or $VOIDKEY_BROKER_URL) with a real
client OIDC token and checks the answer, without printing any secret:
  1. keys: --keys / $VOIDKEY_KEYS (comma-separated), else the first key that
     GET /credentials/keys lists for the token's identity;
  2. POST /credentials/mint -> 200 with a non-empty "credentials" object holding
     every requested key, and an "expiresAt".
Exits 0 on success, 1 when a check fails, 2 on usage errors (no token...).

ENVIRONMENT is a name such as staging or production instead of a URL: its URL
comes from $VOIDKEY_URL_<ENVIRONMENT> (upper-cased, "-" as "_"), else from a
"NAME=URL" line of deploy/environments.env (or $VOIDKEY_ENVIRONMENTS_FILE).

The token comes from $VOIDKEY_OIDC_TOKEN or --token-file FILE; it is sent in
the Authorization header through a private file, never on a command line.

Options:
  --keys A,B          key names to mint (default: $VOIDKEY_KEYS, else the first listed)
  --token-file FILE   read the client token from FILE
  --duration SECONDS  ask for this credential lifetime
  --timeout SECONDS   per-request timeout (default 20, or $INTEGRATION_TIMEOUT)
  -k, --insecure      accept a self-signed TLS certificate
  -h, --help          show this help
EOF
}

die_usage() {
  echo "integration-tests: $1" >&2
  echo "Run 'scripts/integration-tests.sh --help' for usage." >&2
  exit 2
}

TIMEOUT="${INTEGRATION_TIMEOUT:-20}"
INSECURE=0
URL="${VOIDKEY_BROKER_URL:-}"
KEYS="${VOIDKEY_KEYS:-}"
TOKEN_FILE=""
DURATION=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --keys) [ $# -ge 2 ] || die_usage "--keys needs a value"; KEYS="$2"; shift 2 ;;
    --token-file) [ $# -ge 2 ] || die_usage "--token-file needs a value"; TOKEN_FILE="$2"; shift 2 ;;
    --duration) [ $# -ge 2 ] || die_usage "--duration needs a value"; DURATION="$2"; shift 2 ;;
    --timeout) [ $# -ge 2 ] || die_usage "--timeout needs a value"; TIMEOUT="$2"; shift 2 ;;
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
case "$TIMEOUT$DURATION" in *[!0-9]*) die_usage "--timeout and --duration take whole seconds" ;; esac

make_work_dir

# The token goes into a private header file; the variable is dropped at once.
if [ -n "$TOKEN_FILE" ]; then
  [ -r "$TOKEN_FILE" ] || die_usage "cannot read the token file $TOKEN_FILE"
  TOKEN="$(tr -d ' \r\n\t' <"$TOKEN_FILE")"
else
  TOKEN="${VOIDKEY_OIDC_TOKEN:-}"
fi
[ -n "$TOKEN" ] || die_usage "no client token: set VOIDKEY_OIDC_TOKEN or pass --token-file"
printf 'Authorization: Bearer %s\nContent-Type: application/json\nAccept: application/json\n' "$TOKEN" \
  >"$WORK/req-headers"
TOKEN=""
unset VOIDKEY_OIDC_TOKEN

# The first match of a regex in the flattened body, or nothing.
body_first() { grep -Eo "$1" "$WORK/flat" | head -n 1 | sed -E 's/.*"([^"]+)"$/\1/' || true; }
# The error code and request id of an error body: safe to print (docs/errors.md).
error_summary() {
  local code rid
  code="$(body_first '"error" *: *"[A-Z_]+"')"
  rid="$(body_first '"requestId" *: *"[A-Za-z0-9._:-]+"')"
  echo "error ${code:-unknown}, requestId ${rid:-unknown}"
}
fail() {
  echo "FAIL - $1"
  exit 1
}

pick_keys() {
  if [ -n "$KEYS" ]; then
    echo "ok   - keys to mint: $KEYS"
    return
  fi
  http GET /credentials/keys
  reachable_or_exit
  [ "$STATUS" = 200 ] || fail "GET /credentials/keys -> $STATUS ($(error_summary)), expected 200"
  KEYS="$(body_first '"name" *: *"[A-Za-z0-9_-]{1,64}"')"
  [ -n "$KEYS" ] || fail "GET /credentials/keys -> 200 but the identity has no key to mint"
  echo "ok   - GET /credentials/keys -> 200, minting its first key: $KEYS"
}

# Sets KEY_LIST from $KEYS; names are checked, so they can go into JSON as is.
parse_keys() {
  local key
  IFS=',' read -r -a KEY_LIST <<<"${KEYS// /}"
  [ "${#KEY_LIST[@]}" -ge 1 ] && [ "${#KEY_LIST[@]}" -le 10 ] || fail "give 1 to 10 key names, got: $KEYS"
  for key in "${KEY_LIST[@]}"; do
    [[ "$key" =~ ^[A-Za-z0-9_-]{1,64}$ ]] || fail "invalid key name '$key' (allowed: A-Z a-z 0-9 _ -, 1-64 chars)"
  done
}

mint_body() {
  local json="" key
  for key in "${KEY_LIST[@]}"; do json="$json${json:+,}\"$key\""; done
  printf '{"keys":[%s]%s}' "$json" "${DURATION:+,\"duration\":$DURATION}"
}

check_mint() {
  local key expires
  http POST /credentials/mint "$(mint_body)"
  reachable_or_exit
  [ "$STATUS" = 200 ] || fail "POST /credentials/mint -> $STATUS ($(error_summary)), expected 200"
  body_has '"credentials" *: *\{ *"' || fail "POST /credentials/mint -> 200 without a non-empty credentials object"
  for key in "${KEY_LIST[@]}"; do
    body_has "\"$key\" *: *\\{ *\"" || fail "POST /credentials/mint -> 200 but no credentials for $key"
  done
  expires="$(body_first '"expiresAt" *: *"[0-9T:.+Z-]+"')"
  [ -n "$expires" ] || fail "POST /credentials/mint -> 200 without expiresAt"
  echo "ok   - POST /credentials/mint -> 200, credentials for ${#KEY_LIST[@]} key(s), expiring $expires"
}

echo "Integration-testing $URL${URL_SOURCE:+ ($URL_SOURCE)}"
pick_keys
parse_keys
check_mint
echo "integration test passed: minted ${KEYS} against $URL (no credential printed)"
