#!/usr/bin/env bash
# Build the real Pulumi CLI the tests run, into .tools/bin/pulumi (ignored by git).
#
# The version is the `pulumi` Python SDK pin in pyproject.toml (one source of truth).
# Pulumi publishes no CLI binary we can fetch here, but its Go module builds one: a
# wrapper module requires github.com/pulumi/pulumi/pkg/v3 at that version and builds
# its cmd/pulumi. The -ldflags version stamp is needed: without it the CLI reports
# "v3.0.0-dev" style versions and the Automation API refuses it.
#
# Cached twice: skipped when the binary already reports the pinned version; the Go
# module and build caches live outside the tree, so a fresh clone on the same machine
# rebuilds in seconds (a cold machine takes minutes on 2 cores).
#
#   PULUMI_CLI_DIR        default <repo>/.tools (binary in $PULUMI_CLI_DIR/bin/pulumi)
#   PULUMI_CLI_CACHE_DIR  default ${XDG_CACHE_HOME:-$HOME/.cache}/sevensa-platform/pulumi-cli
#   GO                    default /usr/local/go/bin/go, else `go` on PATH
set -euo pipefail

repo_root="$(cd "$(dirname "$0")/.." && pwd)"
tools_dir="${PULUMI_CLI_DIR:-$repo_root/.tools}"
cache_dir="${PULUMI_CLI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sevensa-platform/pulumi-cli}"
binary="$tools_dir/bin/pulumi"
started=$SECONDS

log() { printf 'build-pulumi-cli: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

version="$(sed -nE 's/^[[:space:]]*"pulumi==([0-9]+\.[0-9]+\.[0-9]+)",?[[:space:]]*$/\1/p' "$repo_root/pyproject.toml")"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "no exact \"pulumi==X.Y.Z\" pin found in pyproject.toml"
tag="v$version"

installed_version() { if [[ -x "$binary" ]]; then "$binary" version 2>/dev/null || true; fi; }

if [[ "$(installed_version)" == "$tag" ]]; then
  log "pulumi $tag already built at $binary"
  exit 0
fi

go_bin="${GO:-/usr/local/go/bin/go}"
[[ -x "$go_bin" ]] || go_bin="$(command -v go || true)"
[[ -n "$go_bin" ]] || die "Go is needed to build the Pulumi CLI and was not found"

mkdir -p "$cache_dir" "$tools_dir/bin"
exec 9>"$cache_dir/.lock"
flock -w 1800 9 || die "timed out waiting for the lock on $cache_dir/.lock"
# Another run may have built it while we waited for the lock.
if [[ "$(installed_version)" == "$tag" ]]; then
  log "pulumi $tag already built at $binary"
  exit 0
fi

export GOMODCACHE="$cache_dir/gomodcache" GOCACHE="$cache_dir/gocache" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
module_dir="$cache_dir/module-$tag"
mkdir -p "$module_dir"
cd "$module_dir"

# `go get` of the command's package (not just the module) records every dependency it imports.
if [[ ! -f resolved ]]; then
  log "resolving github.com/pulumi/pulumi/pkg/v3@$tag (first time on this machine: downloads the modules)"
  rm -f go.mod go.sum
  "$go_bin" mod init w >/dev/null 2>&1
  if ! "$go_bin" get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$tag" 2>&1 |
    awk '/^go: downloading/ {n++; if (n % 50 == 0) printf "build-pulumi-cli:   %d modules downloaded\n", n > "/dev/stderr"; next} {print > "/dev/stderr"}'; then
    die "go get github.com/pulumi/pulumi/pkg/v3@$tag failed"
  fi
  touch resolved
fi

log "compiling pulumi $tag with $("$go_bin" version | cut -d' ' -f3) (cold: minutes; warm cache: seconds)"
tmp_binary="$binary.tmp.$$"
trap 'rm -f "$tmp_binary"' EXIT
# -v names each package as it is compiled; count them as progress instead of printing them.
if ! "$go_bin" build -v \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$tag" \
  -o "$tmp_binary" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi 2>&1 |
  awk '/^[a-zA-Z0-9_.\/-]+$/ {n++; if (n % 100 == 0) printf "build-pulumi-cli:   %d packages compiled\n", n > "/dev/stderr"; next} {print > "/dev/stderr"}'; then
  die "go build of the Pulumi CLI $tag failed"
fi

built="$("$tmp_binary" version 2>/dev/null || true)"
[[ "$built" == "$tag" ]] || die "the built CLI reports version '$built', expected $tag"
mv -f "$tmp_binary" "$binary"
log "built pulumi $tag at $binary in $((SECONDS - started)) s"
