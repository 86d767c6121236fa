import type { Prng } from "../../adapters/sim/prng.ts";
import type { World } from "./world.ts";

/** Faults that happen to the host between or during syncs (the step faults are in fault-injector.ts). */
export const WORLD_EVENT_KINDS = [
  "snapshot-abort",
  "tracker-loss",
  "cbt-reset",
  "disk-resize",
  "clock-jump",
] as const;
export type WorldEventKind = (typeof WORLD_EVENT_KINDS)[number];

export async function applyWorldEvent(world: World, event: WorldEventKind, prng: Prng): Promise<void> {
  const disks = await world.host.describe();
  const disk = prng.pick([...disks]);
  switch (event) {
    case "snapshot-abort":
      // Enough writes during the next transfer to overflow any diff area.
      world.source.burstDuringNextTransfer(disks.reduce((n, d) => n + d.capacity, 0));
      return;
    case "tracker-loss":
      world.host.uncleanReboot();
      return;
    case "cbt-reset":
      world.host.resetChangeTracking(disk.id, prng.pick(["snapshot reverted", "VM migrated (vMotion)"]));
      return;
    case "disk-resize":
      world.host.resizeDisk(disk.id, disk.capacity + 4 * 1024 * 1024);
      return;
    case "clock-jump":
      world.host.clock.jump(prng.chance(0.5) ? -3_600_000 : 86_400_000);
      return;
  }
}
