# shellcheck shell=bash
# Sourced by smoke-tests.sh and integration-tests.sh: turns the URL argument,
# which may also be an environment name (staging, production, eu-west...),
# into the broker URL. Needs die_usage from the caller.
#
# An environment name NAME resolves from, in order:
#   1. $VOIDKEY_URL_<NAME> (upper-cased, "-" as "_"), e.g. VOIDKEY_URL_STAGING;
#   2. a "NAME=URL" line of the environments file: $VOIDKEY_ENVIRONMENTS_FILE,
#      else deploy/environments.env of this checkout. The file is read, never
#      executed.

VOIDKEY_ENVIRONMENTS_FILE="${VOIDKEY_ENVIRONMENTS_FILE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/environments.env}"

# environment_url NAME: prints the URL the environments file gives NAME, if any.
environment_url() {
  local name="$1" line key value
  [ -r "$VOIDKEY_ENVIRONMENTS_FILE" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"
    line="${line%"${line##*[![:space:]]}"}"
    case "$line" in '' | '#'*) continue ;; esac
    key="${line%%=*}"
    value="${line#*=}"
    [ "$key" != "$line" ] || continue
    key="${key%"${key##*[![:space:]]}"}"
    value="${value#"${value%%[![:space:]]*}"}"
    case "$value" in \"*\" | \'*\') value="${value:1:${#value}-2}" ;; esac
    if [ "$key" = "$name" ]; then
      printf '%s' "$value"
      return 0
    fi
  done <"$VOIDKEY_ENVIRONMENTS_FILE"
}

# resolve_broker_url URL_OR_NAME: sets URL (no trailing slash) and URL_SOURCE
# (empty for a URL, else where the environment's URL came from).
resolve_broker_url() {
  local given="$1" var from=""
  [ -n "$given" ] || die_usage "no broker URL given"
  URL_SOURCE=""
  case "$given" in
    http://* | https://*) URL="$given" ;;
    *)
      [[ "$given" =~ ^[A-Za-z][A-Za-z0-9_-]*$ ]] ||
        die_usage "'$given' is neither a URL (http:// or https://) nor an environment name"
      var="VOIDKEY_URL_$(printf '%s' "$given" | tr 'a-z-' 'A-Z_')"
      if [ -n "${!var:-}" ]; then
        URL="${!var}"
        from="\$$var"
      else
        URL="$(environment_url "$given")"
        from="$VOIDKEY_ENVIRONMENTS_FILE"
      fi
      [ -n "$URL" ] ||
        die_usage "unknown environment '$given': set $var to its broker URL, or add the line '$given=https://...' to $VOIDKEY_ENVIRONMENTS_FILE (or point VOIDKEY_ENVIRONMENTS_FILE at your file)"
      case "$URL" in
        http://* | https://*) ;;
        *) die_usage "environment '$given' from $from is not a URL (it must start with http:// or https://)" ;;
      esac
      # shellcheck disable=SC2034 # read by the sourcing script
      URL_SOURCE="environment $given, from $from"
      ;;
  esac
  URL="${URL%/}"
}
