#!/bin/sh
# Same contract as the official image's entrypoint: flags or a Traefik subcommand run Traefik.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- traefik "$@"
fi
if [ "$1" != traefik ] && traefik "$1" --help >/dev/null 2>&1; then
  set -- traefik "$@"
fi
exec "$@"
