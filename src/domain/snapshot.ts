/**
 * Consistency a snapshot gives: `application` (VSS writers / quiesced with app manifests),
 * `filesystem` (quiesced, no writers), `crash` (point in time, not quiesced), `none` (a live source
 * such as a mounted device or an NBD export read while it changes — not a snapshot at all).
 */
export type Consistency = "application" | "filesystem" | "crash" | "none";

/**
 * An opaque position in a source's change history (tracker generation + epoch, USN, VMware
 * changeId, QEMU bitmap name). Only the source that issued it can interpret it.
 */
export type ChangeToken = string;

/** Why a source could not give the changes since a token; the planner turns this into a resync. */
export interface ChangeReset {
  readonly kind: "reset";
  readonly reason: string;
}
