#!/usr/bin/env bash
# Fetch, unpack and pre-warm the Keycloak (Quarkus) distribution used by the
# real-server tests; print the Keycloak home directory on stdout (only that).
#
# Idempotent and safe to run concurrently (flock). Uses the cache when it is
# complete, rebuilds it when it is missing or half-written; never requires it.
#
#   KEYCLOAK_VERSION      default 26.5.6
#   KEYCLOAK_CACHE_DIR    default ${XDG_CACHE_HOME:-$HOME/.cache}/sevensa-platform/keycloak
#   KEYCLOAK_DIST_TARBALL use this keycloak-quarkus-dist-<v>.tar.gz instead of Maven
#   KEYCLOAK_JAVA_HOME    JDK for the warm-up run (else JAVA_HOME, else `java` on PATH)
#   KEYCLOAK_WARMUP=0     skip the warm-up run
#
# The archive comes from Maven Central as
# org.keycloak:keycloak-quarkus-dist:<v>:tar.gz via `mvn dependency:copy`
# (so ~/.m2 doubles as a download cache). The warm-up run starts
# `kc.sh start-dev` once with the build-time options the test fixture uses,
# so Quarkus "augmentation" (~10 s) is done once here instead of every run.
set -euo pipefail

VERSION="${KEYCLOAK_VERSION:-26.5.6}"
CACHE_DIR="${KEYCLOAK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sevensa-platform/keycloak}"
KC_HOME="$CACHE_DIR/keycloak-$VERSION"
# Build-time options: keep identical to BUILD_OPTIONS in tests/servers/keycloak_server.py.
BUILD_OPTS=(--db=dev-mem --health-enabled=true)
WARM_MARK="$KC_HOME/.sevensa-warm"
UNPACK_MARK="$KC_HOME/.sevensa-unpacked"

log() { printf 'fetch-keycloak: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.lock"
flock -w 1800 9 || die "timed out waiting for the lock on $CACHE_DIR/.lock"

warm_key="${BUILD_OPTS[*]}"

if [[ -f "$UNPACK_MARK" && ( "${KEYCLOAK_WARMUP:-1}" == 0 || "$(cat "$WARM_MARK" 2>/dev/null)" == "$warm_key" ) ]]; then
  printf '%s\n' "$KC_HOME"
  exit 0
fi

work="$(mktemp -d "$CACHE_DIR/.work.XXXXXX")"
warm_pgid=""
cleanup() {
  if [[ -n "$warm_pgid" ]]; then kill -TERM -- "-$warm_pgid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. obtain and unpack the archive --------------------------------------
if [[ ! -f "$UNPACK_MARK" ]]; then
  tarball="${KEYCLOAK_DIST_TARBALL:-}"
  if [[ -z "$tarball" ]]; then
    command -v mvn >/dev/null || die "mvn not found (Debian: apt-get install -y maven), or set KEYCLOAK_DIST_TARBALL"
    log "downloading org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz with Maven"
    # run outside any project so no pom.xml is picked up
    ( cd "$work" && mvn -q -B -Dstyle.color=never dependency:copy \
        "-Dartifact=org.keycloak:keycloak-quarkus-dist:$VERSION:tar.gz" \
        "-DoutputDirectory=$work/download" ) >&2 \
      || die "mvn dependency:copy failed for keycloak-quarkus-dist:$VERSION"
    tarball="$work/download/keycloak-quarkus-dist-$VERSION.tar.gz"
  fi
  [[ -f "$tarball" ]] || die "archive not found: $tarball"
  log "unpacking $tarball"
  mkdir -p "$work/unpack"
  tar --no-same-owner -xzf "$tarball" -C "$work/unpack" || die "cannot unpack $tarball"
  [[ -x "$work/unpack/keycloak-$VERSION/bin/kc.sh" ]] || die "archive has no keycloak-$VERSION/bin/kc.sh"
  touch "$work/unpack/keycloak-$VERSION/.sevensa-unpacked"
  rm -rf "$KC_HOME"
  mv "$work/unpack/keycloak-$VERSION" "$KC_HOME"
fi

# --- 2. warm-up: one start-dev run performs and persists the augmentation ---
if [[ "${KEYCLOAK_WARMUP:-1}" != 0 && "$(cat "$WARM_MARK" 2>/dev/null)" != "$warm_key" ]]; then
  jh="${KEYCLOAK_JAVA_HOME:-${JAVA_HOME:-}}"
  if [[ -n "$jh" ]]; then export JAVA_HOME="$jh"; java="$jh/bin/java"; else java="$(command -v java || true)"; fi
  [[ -n "$java" && -x "$java" ]] || die "no Java found for Keycloak (set KEYCLOAK_JAVA_HOME or JAVA_HOME; Debian: apt-get install -y openjdk-17-jre-headless)"
  log "warming up Keycloak $VERSION with $("$java" -version 2>&1 | head -1) (one start-dev run, ~30 s)"
  rm -f "$WARM_MARK"
  warm_log="$work/warmup.log"
  # Drop inherited KC_* settings so they do not end up in the persisted build.
  while IFS='=' read -r name _; do
    [[ "$name" == KC_* ]] && unset "$name"
  done < <(env)
  KC_BOOTSTRAP_ADMIN_USERNAME=warmup KC_BOOTSTRAP_ADMIN_PASSWORD="warmup-$$-$RANDOM" \
    setsid "$KC_HOME/bin/kc.sh" start-dev "${BUILD_OPTS[@]}" \
      --http-host=127.0.0.1 --http-port=0 --http-management-port=0 \
      </dev/null >"$warm_log" 2>&1 &
  warm_pgid=$!
  ok=""
  for _ in $(seq 1 600); do
    if grep -q "Listening on:" "$warm_log"; then ok=1; break; fi
    kill -0 "$warm_pgid" 2>/dev/null || break
    sleep 0.5
  done
  kill -TERM -- "-$warm_pgid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$warm_pgid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$warm_pgid" 2>/dev/null || true
  warm_pgid=""
  rm -rf "$KC_HOME/data"
  if [[ -z "$ok" ]]; then
    tail -n 40 "$warm_log" >&2
    die "Keycloak warm-up run did not start (log tail above)"
  fi
  printf '%s' "$warm_key" >"$WARM_MARK"
fi

printf '%s\n' "$KC_HOME"
