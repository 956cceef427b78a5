#!/usr/bin/env bash
# Debian packages the toolkit and its tests use: real servers (PostgreSQL, Redis, MariaDB), the
# checkers for rendered configs (promtool, amtool), an sshd test host, Graphviz for SVG
# diagrams, a JDK for Keycloak, Chromium + chromedriver + pdftotext for the web pages' browser tests, and wrk
# (the compiled load generator of benchmarks/app_load.py). Idempotent; needs root (CI and dev machines run as root).
set -euo pipefail
packages=(postgresql redis-server mariadb-server prometheus prometheus-alertmanager openssh-server graphviz maven openjdk-17-jre-headless shellcheck iproute2 chromium chromium-driver poppler-utils wrk busybox-static)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts these services on install; the tests start their own on loopback.
for service in postgresql redis-server mariadb prometheus prometheus-alertmanager ssh; do
  systemctl stop "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
done

# actionlint (validates .github/workflows): from the Go module proxy, since its PyPI wheel
# downloads a binary at build time. Uses the machine's Go toolchain (/usr/local/go here).
if ! command -v actionlint >/dev/null 2>&1; then
  go_bin=/usr/local/go/bin/go
  [ -x "$go_bin" ] || go_bin=$(command -v go)
  GOBIN=/usr/local/bin "$go_bin" install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
fi

# restic (the backup image's tool; tests run it against real servers) and restic's REST
# server (an off-site target in the tests), pinned, built from the Go module proxy. Debian's
# restic 0.14 lacks `backup --stdin-from-command` (0.17+). rest-server is built from its
# downloaded module because the proxy refuses its version list (which `go install` asks for).
go_bin=/usr/local/go/bin/go
[ -x "$go_bin" ] || go_bin=$(command -v go)
if ! restic version 2>/dev/null | grep -q '^restic 0\.18\.1 '; then
  GOBIN=/usr/local/bin CGO_ENABLED=0 "$go_bin" install -trimpath github.com/restic/restic/cmd/restic@v0.18.1
fi
if ! rest-server --version 2>/dev/null | grep -q 'rest-server 0\.14\.0'; then
  module_dir=$("$go_bin" mod download -json github.com/restic/rest-server@v0.14.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  (cd "$module_dir" && CGO_ENABLED=0 "$go_bin" build -trimpath -o /usr/local/bin/rest-server ./cmd/rest-server)
fi

# The live lab's Docker engine (Debian docker.io, started in the background) and mmdebstrap for its images.
bash "$(dirname "$0")/install-docker.sh"
