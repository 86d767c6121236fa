/**
 * Where the engine tells a fault injector it has reached a step at which the real world can fail
 * (a process can die, a device can err). Production wires `noFaults`, a synchronous no-op: one
 * predictable call per step, no allocation, no await.
 */

export type FaultSite =
  | "snapshot.opened"
  | "plan.done"
  | "chunk.read"
  | "packs.flushed"
  | "resume.saved"
  | "manifest.write"
  | "manifest.written"
  | "point.write"
  | "point.written"
  | "committed"
  | "release";

export interface FaultPoints {
  /** Called at each site; may throw to inject a fault (a simulated crash, a device error). */
  hit(site: FaultSite): void;
}

export const noFaults: FaultPoints = { hit: () => undefined };
