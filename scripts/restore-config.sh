#!/usr/bin/env bash
# Restores a Voidkey configuration backup made by scripts/backup-config.sh:
# the local config file, the ConfigMap, the Secret (only when its values were
# saved) and, with --chart, the Helm release's values.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/restore-config.sh [options] BACKUP_DIR

Restores from a folder written by scripts/backup-config.sh
(backups/voidkey-YYYYmmdd-HHMMSS/):
  config.yaml        -> the local config file (the current one is kept beside it
                        as FILE.before-restore-YYYYmmdd-HHMMSS)
  configmap/         -> the ConfigMap (kubectl apply)
  secret/            -> the Secret, only if the backup holds its values
  secret-keys.txt    -> listed, so you can check the Secret still has those keys
  helm-values.yaml   -> helm upgrade --install, only with --chart
Without kubectl or helm it says so and still restores the local file.
Exits 0 when something was restored, 1 when nothing could be or the --restart
failed (kubectl missing or failing), 2 on usage errors.

Options:
  -n, --namespace NS     namespace (default: the one recorded in the backup)
  --config-file PATH     where to restore config.yaml (default: the path recorded
                         in the backup, else ./config/config.yaml)
  --chart CHART          chart to upgrade the release with (e.g. deploy/helm/voidkey)
  --restart              kubectl rollout restart the deployment after restoring
  --deployment NAME      deployment to restart (default: the release name)
  --no-kubernetes        do not call kubectl or helm
  --dry-run              say what would be done, change nothing
  -h, --help             show this help
EOF
}

die_usage() {
  echo "restore-config: $1" >&2
  echo "Run 'scripts/restore-config.sh --help' for usage." >&2
  exit 2
}

SRC=""
NAMESPACE=""
CONFIG_FILE=""
CHART=""
RESTART=0
DEPLOYMENT=""
USE_KUBE=1
DRY_RUN=0
need() { [ "$1" -ge 2 ] || die_usage "$2 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -n | --namespace) need $# "$1"; NAMESPACE="$2"; shift 2 ;;
    --config-file) need $# "$1"; CONFIG_FILE="$2"; shift 2 ;;
    --chart) need $# "$1"; CHART="$2"; shift 2 ;;
    --restart) RESTART=1; shift ;;
    --deployment) need $# "$1"; DEPLOYMENT="$2"; shift 2 ;;
    --no-kubernetes) USE_KUBE=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -*) die_usage "unknown option $1" ;;
    *) [ -z "$SRC" ] || die_usage "one backup folder only"; SRC="$1"; shift ;;
  esac
done
[ -n "$SRC" ] || die_usage "no backup folder given"
[ -f "$SRC/manifest.txt" ] || die_usage "$SRC is not a backup folder (no manifest.txt)"
[ "$RESTART" = 0 ] || [ "$USE_KUBE" = 1 ] || die_usage "--restart needs kubectl: drop --no-kubernetes"

# Values recorded at backup time (key=value lines; never executed).
RELEASE=voidkey
CONFIGMAP=voidkey
SECRET=voidkey
RECORDED_NS=voidkey
RECORDED_FILE=""
while IFS='=' read -r key value; do
  case "$key" in
    namespace) RECORDED_NS="$value" ;;
    release) RELEASE="$value" ;;
    configmap) CONFIGMAP="$value" ;;
    secret) SECRET="$value" ;;
    config_file) RECORDED_FILE="$value" ;;
  esac
done <"$SRC/manifest.txt"
NAMESPACE="${NAMESPACE:-$RECORDED_NS}"
DEPLOYMENT="${DEPLOYMENT:-$RELEASE}"
CONFIG_FILE="${CONFIG_FILE:-${RECORDED_FILE:-./config/config.yaml}}"

DONE=0
restored() {
  DONE=$((DONE + 1))
  echo "restored - $1"
}
skipped() { echo "skipped  - $1"; }
# A step the caller asked for that did not happen: said on both streams, and exit 1 at the end.
FAILED=0
failed() {
  FAILED=$((FAILED + 1))
  echo "FAILED   - $1"
  echo "restore-config: $1" >&2
}
note() { echo "note     - $1"; }
run() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry-run  - would run: $*"
  else
    "$@"
  fi
}

restore_local_file() {
  if [ ! -f "$SRC/config.yaml" ]; then
    skipped "local config file: not in this backup"
    return
  fi
  if [ -f "$CONFIG_FILE" ] && cmp -s "$SRC/config.yaml" "$CONFIG_FILE"; then
    restored "local config file $CONFIG_FILE (already identical)"
    return
  fi
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry-run  - would copy config.yaml to $CONFIG_FILE"
    DONE=$((DONE + 1))
    return
  fi
  mkdir -p "$(dirname "$CONFIG_FILE")"
  if [ -f "$CONFIG_FILE" ]; then
    local aside
    aside="$CONFIG_FILE.before-restore-$(date +%Y%m%d-%H%M%S)"
    cp -p "$CONFIG_FILE" "$aside"
    note "the current $CONFIG_FILE is kept as $aside"
  fi
  cp "$SRC/config.yaml" "$CONFIG_FILE"
  restored "local config file $CONFIG_FILE"
}

# kubectl apply of a ConfigMap/Secret built from a folder of files (one key each).
apply_from_dir() {
  local kind="$1" name="$2" dir="$3"
  if [ "$DRY_RUN" = 1 ]; then
    echo "dry-run  - would apply $kind $NAMESPACE/$name from $dir"
    return 0
  fi
  local create=(kubectl create "$kind")
  if [ "$kind" = secret ]; then create+=(generic); fi
  "${create[@]}" "$name" -n "$NAMESPACE" --from-file="$dir" --dry-run=client -o yaml |
    kubectl apply -n "$NAMESPACE" -f -
}

restore_kubernetes() {
  if [ -d "$SRC/configmap" ]; then
    if apply_from_dir configmap "$CONFIGMAP" "$SRC/configmap"; then
      restored "ConfigMap $NAMESPACE/$CONFIGMAP"
      [ -f "$SRC/helm-values.yaml" ] && note "the ConfigMap belongs to Helm release $RELEASE: its next upgrade rewrites it; restore with --chart to keep both in step"
    else
      skipped "ConfigMap $NAMESPACE/$CONFIGMAP: kubectl apply failed"
    fi
  fi
  if [ -d "$SRC/secret" ]; then
    if apply_from_dir secret "$SECRET" "$SRC/secret"; then
      restored "Secret $NAMESPACE/$SECRET (values from the backup)"
    else
      skipped "Secret $NAMESPACE/$SECRET: kubectl apply failed"
    fi
  elif [ -f "$SRC/secret-keys.txt" ]; then
    note "the backup holds only the Secret's key names; check $NAMESPACE/$SECRET has: $(tr '\n' ' ' <"$SRC/secret-keys.txt")"
  fi
}

restore_helm() {
  [ -f "$SRC/helm-values.yaml" ] || return 0
  if [ -z "$CHART" ]; then
    note "Helm values not applied; to apply: helm upgrade --install $RELEASE CHART -n $NAMESPACE -f $SRC/helm-values.yaml"
    return 0
  fi
  if grep -q 'REDACTED' "$SRC/helm-values.yaml"; then
    skipped "Helm values: secrets were REDACTED at backup time; supply them (secrets.existingSecret or --set) and run helm upgrade yourself"
    return 0
  fi
  if run helm upgrade --install "$RELEASE" "$CHART" -n "$NAMESPACE" -f "$SRC/helm-values.yaml"; then
    restored "Helm release $NAMESPACE/$RELEASE with the saved values"
  else
    skipped "Helm release $NAMESPACE/$RELEASE: helm upgrade failed"
  fi
}

echo "Restoring Voidkey configuration from $SRC"
restore_local_file
if [ "$USE_KUBE" = 0 ]; then
  skipped "Kubernetes and Helm: --no-kubernetes"
else
  if command -v kubectl >/dev/null 2>&1; then
    restore_kubernetes
  elif [ -d "$SRC/configmap" ] || [ -d "$SRC/secret" ]; then
    skipped "ConfigMap and Secret: kubectl is not installed (not on PATH); the files are in $SRC"
  fi
  if command -v helm >/dev/null 2>&1; then
    restore_helm
  elif [ -f "$SRC/helm-values.yaml" ]; then
    skipped "Helm values: helm is not installed (not on PATH); the file is $SRC/helm-values.yaml"
  fi
  if [ "$RESTART" = 1 ]; then
    if ! command -v kubectl >/dev/null 2>&1; then
      failed "cannot restart deployment $NAMESPACE/$DEPLOYMENT: kubectl is not installed (not on PATH); the pods keep the old config"
    else
      rc=0
      run kubectl rollout restart "deployment/$DEPLOYMENT" -n "$NAMESPACE" || rc=$?
      if [ "$rc" = 0 ]; then
        restored "rolled deployment $NAMESPACE/$DEPLOYMENT"
      else
        failed "kubectl rollout restart deployment/$DEPLOYMENT -n $NAMESPACE exited $rc; the pods keep the old config until they restart"
      fi
    fi
  fi
fi

if [ "$DONE" -eq 0 ]; then
  echo "restore FAILED: nothing could be restored (see the lines above)"
  exit 1
fi
if [ "$FAILED" -gt 0 ]; then
  echo "restore FAILED: $FAILED requested step(s) failed (see the FAILED lines above); $DONE item(s) restored from $SRC"
  exit 1
fi
echo "restore done: $DONE item(s) from $SRC"
