/** The seeded simulated world: a deterministic Source plus the oracle that judges restores. */
export { ChangeTracker, type ChangeTrackerOptions, DEFAULT_TRACKER_GRAIN } from "./change-tracker.ts";
export { ContentGenerator, type ContentMix, DEFAULT_CONTENT_MIX } from "./content.ts";
export { type CapturedDisk, type ExpectedDisk, Oracle } from "./oracle.ts";
export { PAGE_SIZE, type Page } from "./pages.ts";
export { Prng, type Seed } from "./prng.ts";
export {
  DEFAULT_CLUSTER_SIZE,
  METADATA_BYTES,
  SECTOR_SIZE,
  SimDisk,
  type SimDiskOptions,
  type SimFile,
  type WriteListener,
} from "./sim-disk.ts";
export { SimHost, type SimHostOptions } from "./sim-host.ts";
export { type ReadLogEntry, SimSnapshot } from "./sim-snapshot.ts";
export { SIM_EPOCH_MS, VirtualClock } from "./virtual-clock.ts";
export { Workload, type WorkloadOptions } from "./workload.ts";
