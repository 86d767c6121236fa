#!/usr/bin/env bash
# Builds the loopback vCenter (govmomi's simulator from Debian's golang-github-vmware-govmomi-dev)
# offline into $1 (default: .tmp/vcsim/vcsim in the project). Rebuilds only when main.go is newer.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-"$root/.tmp/vcsim/vcsim"}
if [ -x "$out" ] && [ "$out" -nt "$here/main.go" ]; then exit 0; fi
mkdir -p "$(dirname "$out")" "$root/.tmp/vcsim/gocache"
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE=${GOCACHE:-"$root/.tmp/vcsim/gocache"}
go build -o "$out.partial.$$" "$here/main.go"
mv "$out.partial.$$" "$out"
