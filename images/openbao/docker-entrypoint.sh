#!/bin/sh
# Written for the lab image; same contract as the official OpenBao image's entrypoint:
# `server` runs `bao server -config=$BAO_CONFIG_DIR` (plus BAO_LOCAL_CONFIG written there),
# other bao subcommands run through `bao`, anything else is executed as is.
# SKIP_SETCAP / SKIP_CHOWN are accepted; this image never runs setcap and runs as openbao (100).
set -e
BAO_CONFIG_DIR=${BAO_CONFIG_DIR:-/openbao/config}
if [ "${1#-}" != "$1" ]; then
  set -- bao "$@"
fi
if [ "$1" = server ]; then
  shift
  if [ -n "${BAO_LOCAL_CONFIG:-}" ]; then
    printf '%s\n' "$BAO_LOCAL_CONFIG" > "$BAO_CONFIG_DIR/local.json"
  fi
  set -- bao server -config="$BAO_CONFIG_DIR" ${BAO_DEV_ROOT_TOKEN_ID:+-dev-root-token-id="$BAO_DEV_ROOT_TOKEN_ID"} \
    ${BAO_DEV_LISTEN_ADDRESS:+-dev-listen-address="$BAO_DEV_LISTEN_ADDRESS"} "$@"
elif [ "$1" != bao ] && bao --help "$1" 2>&1 | grep -q "bao $1"; then
  set -- bao "$@"
fi
if [ "$(id -u)" = 0 ] && [ -z "${SKIP_CHOWN:-}" ]; then
  chown -R openbao:openbao /openbao/config /openbao/logs /openbao/file 2>/dev/null || true
fi
exec "$@"
