#!/usr/bin/env bash
# Install and start the Docker engine the live lab runs on: Debian stable's `docker.io`
# (Engine 20.10, API 1.41), never a daemon that happens to be there already from elsewhere.
#
# Idempotent and safe to run concurrently (flock): installs docker.io (and mmdebstrap, curl) when
# absent, starts dockerd as root in the background when its socket does not answer, waits
# for the socket, and checks that the daemon answering is Debian's 20.10. Needs root.
# Like a platform host (README, "First deploy"), the daemon serves its Prometheus metrics on
# port 9323 (`--metrics-addr`), which Prometheus scrapes on the monitoring network's gateway; a
# daemon this script started earlier without them is restarted (its containers come back by
# their restart policies).
#
#   pidfile  /var/run/docker.pid     log  /var/log/sevensa-dockerd.log
#   socket   /var/run/docker.sock
#
# A newer docker CLIENT on PATH (e.g. /usr/local/bin/docker 28.x) is fine: clients negotiate
# the API version down to the daemon's 1.41.
set -euo pipefail

DOCKERD=/usr/sbin/dockerd
SOCKET=/var/run/docker.sock
PIDFILE=/var/run/docker.pid
LOG=/var/log/sevensa-dockerd.log
WANT_MAJOR_MINOR=20.10
WAIT_SECONDS=${DOCKER_WAIT_SECONDS:-90}
METRICS_ADDR=0.0.0.0:9323

log() { printf 'install-docker: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $EUID -eq 0 ]] || die "needs root (dockerd runs as root)"

exec 9>/var/lock/sevensa-lab-docker.lock
flock -w 600 9 || die "timed out waiting for /var/lock/sevensa-lab-docker.lock"

# The daemon's version as it reports it on the socket ("" when nothing answers).
server_version() {
  curl -fsS --max-time 3 --unix-socket "$SOCKET" http://localhost/version 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Version"])' 2>/dev/null || true
}

# --- 1. the packages (the engine; curl to ask its socket; mmdebstrap for the lab's base images) ---
missing=()
for pkg in docker.io curl mmdebstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  # policy-rc.d / no systemd: the package's service is not started here; we start dockerd below
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
installed="$("$DOCKERD" --version | sed -n 's/^Docker version \([0-9.]*\).*/\1/p')"
[[ "$installed" == "$WANT_MAJOR_MINOR".* ]] || die "$DOCKERD is version '$installed', expected Debian's $WANT_MAJOR_MINOR.x"

# --- 2. the daemon ------------------------------------------------------------
running="$(server_version)"
if [[ -n "$running" ]] && ! curl -fsS --max-time 3 -o /dev/null http://127.0.0.1:9323/metrics 2>/dev/null \
   && [[ -f "$PIDFILE" ]] && grep -q -- "--pidfile" "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; then
  log "dockerd (pid $(cat "$PIDFILE")) serves no metrics on :9323; restarting it with --metrics-addr"
  kill "$(cat "$PIDFILE")"
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    kill -0 "$(cat "$PIDFILE" 2>/dev/null || echo 0)" 2>/dev/null || break
    sleep 0.5
  done
  running=""
fi
if [[ -z "$running" ]]; then
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "dockerd (pid $(cat "$PIDFILE")) is starting; waiting for its socket"
  else
    rm -f "$PIDFILE"
    log "starting $DOCKERD (log: $LOG)"
    # own session, stdin closed: it outlives this script and the shell that ran it
    # fd 9 (the lock) is closed for dockerd, or the lock would be held as long as the daemon runs
    setsid "$DOCKERD" --pidfile "$PIDFILE" --host "unix://$SOCKET" --metrics-addr "$METRICS_ADDR" </dev/null >>"$LOG" 2>&1 9>&- &
  fi
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    running="$(server_version)"
    [[ -n "$running" ]] && break
    sleep 0.5
  done
  if [[ -z "$running" ]]; then
    tail -n 30 "$LOG" >&2 || true
    die "dockerd did not answer on $SOCKET within ${WAIT_SECONDS}s (log tail above)"
  fi
fi
[[ "$running" == "$WANT_MAJOR_MINOR".* ]] \
  || die "the daemon on $SOCKET is Docker $running, not Debian's $WANT_MAJOR_MINOR; stop it and run this script again"
log "Docker engine $running is running on $SOCKET"
