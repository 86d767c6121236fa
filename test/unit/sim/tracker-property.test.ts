import fc from "fast-check";
import { describe, it } from "vitest";
import { SimHost } from "../../../src/adapters/sim/index.ts";
import type { SimSnapshot } from "../../../src/adapters/sim/sim-snapshot.ts";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { sameBytes } from "./bytes.ts";

const MiB = 1 << 20;
const DISK = "disk-0";

type Step =
  | { readonly kind: "work"; readonly ms: number }
  | { readonly kind: "burst"; readonly bytes: number }
  | { readonly kind: "snapshot" }
  | { readonly kind: "commit" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("work" as const), ms: fc.integer({ min: 1, max: 1500 }) }),
  fc.record({ kind: fc.constant("burst" as const), bytes: fc.integer({ min: 512, max: 512 * 1024 }) }),
  fc.constant({ kind: "snapshot" as const }),
  fc.constant({ kind: "commit" as const }),
);

describe("change tracker against the simulated disk", () => {
  it("never misses a write: every byte that differs between two snapshots lies inside changesSince", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.constantFrom(4096, 16384, 24576, 65536),
        fc.constantFrom(512, 4096, 16384),
        fc.array(step, { minLength: 2, maxLength: 14 }),
        async (seed, grain, clusterSize, steps) => {
          const host = new SimHost({
            seed,
            disks: 1,
            diskSize: 4 * MiB,
            clusterSize,
            trackerGrain: grain,
            diffAreaBytes: 2 ** 40,
            writeRate: 4 * MiB,
          });
          const snapshots: SimSnapshot[] = [await host.openSnapshot([DISK])];
          let committed = 0;
          for (const s of steps) {
            if (s.kind === "work") host.runWorkload(s.ms);
            else if (s.kind === "burst") host.burst(s.bytes);
            else if (s.kind === "snapshot") snapshots.push(await host.openSnapshot([DISK]));
            else {
              committed = snapshots.length - 1;
              host.commitToken(DISK, snapshots[committed]?.token(DISK) as string);
            }
          }
          snapshots.push(await host.openSnapshot([DISK]));
          const images: Uint8Array[] = [];
          for (const s of snapshots) images.push(await s.read(DISK, 0, 4 * MiB));
          for (let i = 0; i < snapshots.length; i++) {
            for (let j = i; j < snapshots.length; j++) {
              const later = snapshots[j] as SimSnapshot;
              const answer = await later.changes(DISK, snapshots[i]?.token(DISK) as string);
              if (i < committed) {
                if (answer instanceof BlockMap)
                  throw new Error(`forgotten epochs still answered (${i}→${j})`);
                continue;
              }
              if (!(answer instanceof BlockMap))
                throw new Error(`unexpected reset ${i}→${j}: ${answer.reason}`);
              const [a, b] = [images[i] as Uint8Array, images[j] as Uint8Array];
              for (let block = 0; block * grain < a.length; block++) {
                const from = block * grain;
                const to = Math.min(a.length, from + grain);
                if (!answer.has(block) && !sameBytes(a.subarray(from, to), b.subarray(from, to))) {
                  throw new Error(
                    `block ${block} changed between snapshots ${i} and ${j} but was not reported`,
                  );
                }
              }
            }
          }
        },
      ),
      { numRuns: 25, seed: 20250101 },
    );
  });
});
