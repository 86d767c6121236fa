#!/usr/bin/env bash
# Builds native/vddk (the addon and the stand-in VDDK) with make; quiet when nothing changed.
# Needs g++, make and the npm packages node-api-headers and node-addon-api (devDependencies).
# Several test files call this at once: a lock makes them wait for one build instead of racing.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p build
exec 9>build/.lock
flock 9
make --no-print-directory -s all
