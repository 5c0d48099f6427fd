#!/usr/bin/env bash
# Backs up a Voidkey deployment's configuration into a dated folder:
# the ConfigMap, the Secret's key names (values only on request), the Helm
# values, and a local config file. Restore with scripts/restore-config.sh.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/backup-config.sh [options]

Writes backups/voidkey-YYYYmmdd-HHMMSS/ (mode 0700) holding what it could reach:
  configmap/<key>     each data key of the ConfigMap (kubectl)
  secret-keys.txt     the Secret's key NAMES, never its values by default (kubectl)
  secret/<key>        the Secret's decoded values, only with --include-secret-values
  helm-values.yaml    `helm get values` of the release; secret-looking values are
                      replaced by REDACTED unless --include-secret-values
  config.yaml         the local config file
  manifest.txt        what was saved, from where
Without kubectl or helm it says so and still backs up the local file.
Exits 0 when something was backed up, 1 when nothing could be, 2 on usage errors.

Options:
  -n, --namespace NS        Kubernetes namespace (default: $VOIDKEY_NAMESPACE or voidkey)
  --release NAME            Helm release (default: voidkey)
  --configmap NAME          ConfigMap name (default: voidkey)
  --secret NAME             Secret name (default: voidkey)
  --config-file PATH        local config file (default: $CONFIG_PATH, else
                            ./config/config.yaml when it exists)
  -o, --output-dir DIR      where the dated folder is created (default: ./backups)
  --include-secret-values   also save secret values: treat the backup as a secret
  --no-kubernetes           do not call kubectl or helm
  -h, --help                show this help
EOF
}

die_usage() {
  echo "backup-config: $1" >&2
  echo "Run 'scripts/backup-config.sh --help' for usage." >&2
  exit 2
}

NAMESPACE="${VOIDKEY_NAMESPACE:-voidkey}"
RELEASE=voidkey
CONFIGMAP=voidkey
SECRET=voidkey
CONFIG_FILE="${CONFIG_PATH:-}"
OUTPUT_DIR=./backups
SECRET_VALUES=0
USE_KUBE=1
need() { [ "$1" -ge 2 ] || die_usage "$2 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -n | --namespace) need $# "$1"; NAMESPACE="$2"; shift 2 ;;
    --release) need $# "$1"; RELEASE="$2"; shift 2 ;;
    --configmap) need $# "$1"; CONFIGMAP="$2"; shift 2 ;;
    --secret) need $# "$1"; SECRET="$2"; shift 2 ;;
    --config-file) need $# "$1"; CONFIG_FILE="$2"; shift 2 ;;
    -o | --output-dir) need $# "$1"; OUTPUT_DIR="$2"; shift 2 ;;
    --include-secret-values) SECRET_VALUES=1; shift ;;
    --no-kubernetes) USE_KUBE=0; shift ;;
    *) die_usage "unknown argument $1" ;;
  esac
done
if [ -z "$CONFIG_FILE" ] && [ -f ./config/config.yaml ]; then CONFIG_FILE=./config/config.yaml; fi

STAMP="$(date +%Y%m%d-%H%M%S)"
DEST="$OUTPUT_DIR/voidkey-$STAMP"
umask 077
mkdir -p "$DEST"
DONE=0
MANIFEST="$DEST/manifest.txt"
{
  echo "# Voidkey configuration backup"
  echo "created=$STAMP"
  echo "namespace=$NAMESPACE"
  echo "release=$RELEASE"
  echo "configmap=$CONFIGMAP"
  echo "secret=$SECRET"
  echo "secret_values=$([ "$SECRET_VALUES" = 1 ] && echo yes || echo no)"
} >"$MANIFEST"

saved() {
  DONE=$((DONE + 1))
  echo "saved   - $1"
  echo "item=$2" >>"$MANIFEST"
}
skipped() { echo "skipped - $1"; }

backup_local_file() {
  if [ -z "$CONFIG_FILE" ]; then
    skipped "local config file: none given (--config-file) and no ./config/config.yaml"
  elif [ ! -r "$CONFIG_FILE" ]; then
    skipped "local config file: cannot read $CONFIG_FILE"
  else
    cp "$CONFIG_FILE" "$DEST/config.yaml"
    local abs
    abs="$(cd "$(dirname "$CONFIG_FILE")" && pwd)/$(basename "$CONFIG_FILE")"
    echo "config_file=$abs" >>"$MANIFEST"
    saved "local config file $CONFIG_FILE -> config.yaml" config.yaml
  fi
}

# data keys of a ConfigMap or Secret, one per line
data_keys() {
  kubectl get "$1" "$2" -n "$NAMESPACE" -o go-template='{{range $k, $v := .data}}{{$k}}{{"\n"}}{{end}}'
}

backup_configmap() {
  local keys key
  if ! keys="$(data_keys configmap "$CONFIGMAP" 2>"$DEST/.err")"; then
    skipped "ConfigMap $NAMESPACE/$CONFIGMAP: $(tail -n 1 "$DEST/.err" | head -c 300)"
    return
  fi
  mkdir -p "$DEST/configmap"
  for key in $keys; do
    kubectl get configmap "$CONFIGMAP" -n "$NAMESPACE" -o go-template="{{index .data \"$key\"}}" \
      >"$DEST/configmap/$key"
  done
  saved "ConfigMap $NAMESPACE/$CONFIGMAP ($(echo "$keys" | wc -w | tr -d ' ') key(s)) -> configmap/" configmap
}

backup_secret() {
  local keys key
  if ! keys="$(data_keys secret "$SECRET" 2>"$DEST/.err")"; then
    skipped "Secret $NAMESPACE/$SECRET: $(tail -n 1 "$DEST/.err" | head -c 300)"
    return
  fi
  printf '%s\n' $keys >"$DEST/secret-keys.txt"
  saved "Secret $NAMESPACE/$SECRET key names (values not saved) -> secret-keys.txt" secret-keys.txt
  [ "$SECRET_VALUES" = 1 ] || return 0
  mkdir -p "$DEST/secret"
  for key in $keys; do
    kubectl get secret "$SECRET" -n "$NAMESPACE" -o go-template="{{index .data \"$key\"}}" |
      base64 --decode >"$DEST/secret/$key"
  done
  saved "Secret $NAMESPACE/$SECRET values -> secret/ (keep this backup as secret as the Secret)" secret
}

# Replaces secret-looking values of a YAML file with REDACTED: scalars (and
# block scalars) under keys ending in secret, password, token or privateKey,
# and the credentials part of URLs. ${VAR} references and empty values stay.
redact_yaml() {
  local line lead prefix value block_indent=-1
  local re_key='^([[:space:]-]*)(["'\'']?[A-Za-z0-9_.-]*([Ss]ecret|SECRET|[Pp]assword|PASSWORD|[Tt]oken|TOKEN|[Pp]rivate[Kk]ey)["'\'']?:[[:space:]]+)(.+)$'
  local re_keep='^(["'\'']?[$][{]|""$|'\'''\''$|[{][}]$|\[\]$|null$|~$)'
  local re_url='^(.*://)[^/@[:space:]]+@(.*)$'
  while IFS= read -r line || [ -n "$line" ]; do
    if [ "$block_indent" -ge 0 ]; then
      local stripped="${line#"${line%%[![:space:]]*}"}"
      if [ -z "$stripped" ] || [ $((${#line} - ${#stripped})) -gt "$block_indent" ]; then continue; fi
      block_indent=-1
    fi
    if [[ "$line" =~ $re_key ]]; then
      lead="${BASH_REMATCH[1]}"
      prefix="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
      value="${BASH_REMATCH[4]}"
      if ! [[ "$line" =~ [Ee]xisting[Ss]ecret: ]] && ! [[ "$value" =~ $re_keep ]]; then
        # A block scalar's lines are the more-indented ones that follow.
        case "$value" in [\|\>]*) block_indent=${#lead} ;; esac
        line="${prefix}REDACTED"
      fi
    fi
    if [[ "$line" =~ $re_url ]]; then line="${BASH_REMATCH[1]}REDACTED@${BASH_REMATCH[2]}"; fi
    printf '%s\n' "$line"
  done
}

backup_helm_values() {
  if ! helm get values "$RELEASE" -n "$NAMESPACE" -o yaml >"$DEST/.values" 2>"$DEST/.err"; then
    skipped "Helm values of release $RELEASE: $(tail -n 1 "$DEST/.err" | head -c 300)"
    rm -f "$DEST/.values"
    return
  fi
  if [ "$SECRET_VALUES" = 1 ]; then
    mv "$DEST/.values" "$DEST/helm-values.yaml"
    saved "Helm values of release $NAMESPACE/$RELEASE (with secrets) -> helm-values.yaml" helm-values.yaml
  else
    redact_yaml <"$DEST/.values" >"$DEST/helm-values.yaml"
    rm -f "$DEST/.values"
    saved "Helm values of release $NAMESPACE/$RELEASE (secrets REDACTED) -> helm-values.yaml" helm-values.yaml
  fi
}

echo "Backing up Voidkey configuration into $DEST"
backup_local_file
if [ "$USE_KUBE" = 0 ]; then
  skipped "Kubernetes and Helm: --no-kubernetes"
else
  if command -v kubectl >/dev/null 2>&1; then
    backup_configmap
    backup_secret
  else
    skipped "ConfigMap and Secret: kubectl is not installed (not on PATH)"
  fi
  if command -v helm >/dev/null 2>&1; then
    backup_helm_values
  else
    skipped "Helm values: helm is not installed (not on PATH)"
  fi
fi
rm -f "$DEST/.err"

if [ "$DONE" -eq 0 ]; then
  rm -rf "$DEST"
  echo "backup FAILED: nothing could be backed up (see the lines above)"
  exit 1
fi
echo "backup done: $DONE item(s) in $DEST"
echo "restore with: scripts/restore-config.sh $DEST"
