#!/usr/bin/env bash
# Mutation check: each test/mutants/*.patch breaks one thing the promise depends on (commit
# ordering, chunk-existence checking, token advancement on failure, resume bookkeeping, freed-space
# zeroing). Applied to a scratch copy of the working tree, the fault-fuzzing property must fail
# within a bounded budget; a mutant that survives means the tests cannot see that bug.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${FUZZ_RUNS:-30}
survivors=()
for patch in "$root"/test/mutants/*.patch; do
  name=$(basename "$patch" .patch)
  scratch=$(mktemp -d)
  tar -C "$root" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$scratch" -xf -
  ln -s "$root/node_modules" "$scratch/node_modules"
  if ! (cd "$scratch" && patch -p1 -s --no-backup-if-mismatch <"$patch"); then
    echo "mutant $name: patch does not apply any more — update it" >&2
    exit 1
  fi
  start=$SECONDS
  if (cd "$scratch" && FUZZ_RUNS=$runs timeout 600 npx vitest run test/property/fault-fuzz.property.test.ts >"$scratch/vitest.log" 2>&1); then
    echo "mutant $name: SURVIVED ($((SECONDS - start)) s) — the property tests did not notice"
    survivors+=("$name")
  else
    violated=$(grep -m1 -oE '(violated|AssertionError|Error): .{0,140}' "$scratch/vitest.log" || true)
    echo "mutant $name: killed in $((SECONDS - start)) s — ${violated}"
    # The failure must be reproducible with the one command it printed.
    replay=$(grep -m1 -oE 'lifeboat sim --replay [0-9:-]+' "$scratch/vitest.log" | awk '{print $4}')
    if [ -n "$replay" ]; then
      (cd "$scratch" && node bin/lifeboat.js sim --replay "$replay" >"$scratch/replay.log" 2>&1)
      if [ $? -eq 1 ] && grep -q '^violated: ' "$scratch/replay.log"; then
        echo "mutant $name: \`lifeboat sim --replay $replay\` reproduces it: $(grep -m1 '^violated' "$scratch/replay.log" | cut -c1-100)"
      else
        echo "mutant $name: replay $replay did NOT reproduce the violation:" >&2
        tail -5 "$scratch/replay.log" >&2
        survivors+=("$name(replay)")
      fi
    fi
  fi
  rm -rf "$scratch"
done
if [ ${#survivors[@]} -gt 0 ]; then
  echo "surviving mutants: ${survivors[*]}" >&2
  exit 1
fi
echo "all mutants killed"
