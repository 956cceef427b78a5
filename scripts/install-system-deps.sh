#!/usr/bin/env bash
# Debian packages the toolkit and its tests use: real servers (PostgreSQL, Redis), the
# checkers for rendered configs (promtool, amtool), an sshd test host, Graphviz for SVG
# diagrams, a JDK for Keycloak, and Chromium + chromedriver + pdftotext for the web pages' browser tests. Idempotent; needs root (CI and dev machines run as root).
set -euo pipefail
packages=(postgresql redis-server prometheus prometheus-alertmanager openssh-server graphviz maven openjdk-17-jre-headless shellcheck iproute2 chromium chromium-driver poppler-utils)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts these services on install; the tests start their own on loopback.
for service in postgresql redis-server prometheus prometheus-alertmanager ssh; do
  systemctl stop "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
done

# actionlint (validates .github/workflows): from the Go module proxy, since its PyPI wheel
# downloads a binary at build time. Uses the machine's Go toolchain (/usr/local/go here).
if ! command -v actionlint >/dev/null 2>&1; then
  go_bin=/usr/local/go/bin/go
  [ -x "$go_bin" ] || go_bin=$(command -v go)
  GOBIN=/usr/local/bin "$go_bin" install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
fi
