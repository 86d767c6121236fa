import { describe, expect, it } from "vitest";
import { ChangeTracker } from "../../../src/adapters/sim/change-tracker.ts";
import { Prng } from "../../../src/adapters/sim/prng.ts";
import { BlockMap } from "../../../src/domain/block-map.ts";

const KiB = 1024;
const tracker = () => new ChangeTracker({ capacity: 1024 * KiB, grain: 16 * KiB, prng: new Prng("tracker") });
const blocks = (m: BlockMap | { kind: "reset" }) => {
  if (!(m instanceof BlockMap)) throw new Error(`expected changes, got ${JSON.stringify(m)}`);
  return [...m.indexes()];
};

describe("ChangeTracker", () => {
  it("returns the union of every epoch after the token up to the snapshot's", () => {
    const t = tracker();
    t.record(0, 512);
    const t1 = t.switchEpoch();
    t.record(16 * KiB, 512);
    const t2 = t.switchEpoch();
    t.record(5 * 16 * KiB, 40 * KiB);
    const t3 = t.switchEpoch();
    expect(blocks(t.changesSince(t1, t3))).toEqual([1, 5, 6, 7]);
    expect(blocks(t.changesSince(t2, t3))).toEqual([5, 6, 7]);
    expect(blocks(t.changesSince(t1, t2))).toEqual([1]);
    expect(blocks(t.changesSince(t3, t3))).toEqual([]);
  });

  it("puts writes made after the epoch switch into the next change set, not the snapshot's", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    t.record(32 * KiB, 512);
    const t2 = t.switchEpoch(); // the snapshot is taken right after this
    t.record(64 * KiB, 512); // written while the snapshot is being read
    expect(blocks(t.changesSince(t1, t2))).toEqual([2]);
    const t3 = t.switchEpoch();
    expect(blocks(t.changesSince(t2, t3))).toEqual([4]);
  });

  it("marks every block a write straddles, at its own grain", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    t.record(16 * KiB - 512, 1024);
    expect(blocks(t.changesSince(t1, t.switchEpoch()))).toEqual([0, 1]);
  });

  it("forgets only epochs at or before the committed token and keeps newer ones", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    t.record(0, 512);
    const t2 = t.switchEpoch();
    t.record(16 * KiB, 512);
    const t3 = t.switchEpoch();
    t.record(32 * KiB, 512);
    t.forget(t2);
    expect(blocks(t.changesSince(t2, t3))).toEqual([1]);
    expect(t.changesSince(t1, t3)).toMatchObject({ kind: "reset" });
    // The open epoch survives too: the next snapshot still sees the write made after t3.
    expect(blocks(t.changesSince(t3, t.switchEpoch()))).toEqual([2]);
  });

  it("ignores a forget naming another generation or an epoch still open", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    t.record(0, 512);
    t.forget(`${t.generation}:${t.epoch}`);
    t.forget("00000000:1");
    t.forget("garbage");
    expect(blocks(t.changesSince(t1, t.switchEpoch()))).toEqual([0]);
  });

  it("answers reset after the tracker is lost, naming why", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    t.record(0, 512);
    t.lose("unclean reboot");
    const after = t.switchEpoch();
    const answer = t.changesSince(t1, after);
    expect(answer).toMatchObject({ kind: "reset" });
    expect(JSON.stringify(answer)).toContain("unclean reboot");
    expect(after.split(":")[0]).not.toBe(t1.split(":")[0]);
  });

  it("answers reset for malformed, foreign, out-of-order and still-open tokens", () => {
    const t = tracker();
    const t1 = t.switchEpoch();
    const t2 = t.switchEpoch();
    for (const since of ["", "nonsense", `${t.generation}:0`, `${t.generation}:x`, "deadbeef:1"]) {
      expect(t.changesSince(since, t2)).toMatchObject({ kind: "reset" });
    }
    expect(t.changesSince(t2, t1)).toMatchObject({ kind: "reset" });
    expect(t.changesSince(t1, `${t.generation}:${t.epoch}`)).toMatchObject({ kind: "reset" });
  });
});
