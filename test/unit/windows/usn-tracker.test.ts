import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { usnChanges, type UsnVolumeState } from "../../../src/adapters/windows-vss/usn-tracker.ts";
import { USN_REASON } from "../../../src/formats/windows/layout.ts";
import { CLUSTER_SIZE, CLUSTERS, ModelVolume, type Op } from "./usn-model.ts";

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("create" as const), clusters: fc.integer({ min: 1, max: 12 }) }),
  fc.record({
    kind: fc.constant("write" as const),
    file: fc.nat(40),
    vcn: fc.nat(30),
    clusters: fc.integer({ min: 1, max: 4 }),
  }),
  fc.record({
    kind: fc.constant("extend" as const),
    file: fc.nat(40),
    clusters: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({
    kind: fc.constant("truncate" as const),
    file: fc.nat(40),
    clusters: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), file: fc.nat(40) }),
  fc.record({ kind: fc.constant("close" as const), file: fc.nat(40) }),
  fc.record({ kind: fc.constant("defrag" as const), file: fc.nat(40) }),
  fc.constant({ kind: "mkdir" as const }),
);

/** Sync windows: operations, then a snapshot; some syncs fail and never commit. */
const history = fc.array(fc.record({ ops: fc.array(op, { maxLength: 25 }), commits: fc.boolean() }), {
  minLength: 2,
  maxLength: 8,
});

describe("the driverless USN tracker", () => {
  test.prop([history], { seed: 20261122, numRuns: 150 })(
    "reports every cluster whose content or allocation changed since the last committed snapshot",
    (syncs) => {
      const volume = new ModelVolume();
      // The first (full) sync: no state yet, so a reset, and the state for the next.
      let committed = usnChanges(undefined, volume.view(0n)).state;
      let committedVersions = volume.versions();
      for (const sync of syncs) {
        for (const o of sync.ops) volume.apply(o);
        const outcome = usnChanges(committed, volume.view(committed.nextUsn));
        expect(outcome.changes).toBeInstanceOf(BlockMap);
        const changed = outcome.changes as BlockMap;
        const now = volume.versions();
        for (let c = 0; c < CLUSTERS; c++) {
          if (!volume.allocation.has(c)) continue;
          if (now[c] !== committedVersions[c] || !committed.allocation.has(c)) {
            expect(changed.has(c), `cluster ${c} changed but was not reported`).toBe(true);
          }
        }
        // A failed sync keeps the old state: the next one still covers everything since the commit.
        if (sync.commits) {
          committed = outcome.state;
          committedVersions = now;
        }
      }
    },
  );

  it("counts a file written while open on every sync until its CLOSE record appears", () => {
    const volume = new ModelVolume();
    volume.apply({ kind: "create", clusters: 4 });
    volume.apply({ kind: "close", file: 0 });
    let state = usnChanges(undefined, volume.view(0n)).state;
    volume.apply({ kind: "write", file: 0, vcn: 0, clusters: 1 }); // opens it: one record
    state = usnChanges(state, volume.view(state.nextUsn)).state;
    expect(state.openFiles.size).toBe(1);
    // Written again while still open: NTFS adds no record, yet the file must be reported.
    volume.apply({ kind: "write", file: 0, vcn: 3, clusters: 1 });
    const outcome = usnChanges(state, volume.view(state.nextUsn));
    const file = [...volume.files.values()].find(
      (f) => f.runs.length > 0 && f.runs[0]?.lcn !== null && f.open !== undefined,
    );
    expect(file).toBeDefined();
    expect((outcome.changes as BlockMap).has((file?.runs[0]?.lcn as number) + 3)).toBe(true);
    volume.apply({ kind: "close", file: 0 });
    expect(usnChanges(outcome.state, volume.view(outcome.state.nextUsn)).state.openFiles.size).toBe(0);
  });

  it("narrows a change to the ranges of a V4 record when no other record touches the file", () => {
    const volume = new ModelVolume();
    volume.apply({ kind: "create", clusters: 8 });
    volume.apply({ kind: "close", file: 0 });
    const state = usnChanges(undefined, volume.view(0n)).state;
    const [id, file] = [...volume.files.entries()].find(([i]) => i >= 64) ?? [];
    const view = volume.view(state.nextUsn);
    const v4 = {
      majorVersion: 4 as const,
      minorVersion: 0,
      recordLength: 80,
      fileReference: BigInt(id as number),
      parentReference: 5n,
      usn: state.nextUsn,
      reason: USN_REASON.DATA_OVERWRITE | USN_REASON.CLOSE,
      sourceInfo: 0,
      extents: [{ offset: 2 * CLUSTER_SIZE, length: 100 }],
    };
    const changed = usnChanges(state, { ...view, nextUsn: state.nextUsn + 80n, records: [v4] })
      .changes as BlockMap;
    const first = file?.runs[0]?.lcn as number;
    expect(changed.has(first + 2)).toBe(true);
    expect(changed.has(first + 3)).toBe(false);
  });

  describe("resets", () => {
    const volume = new ModelVolume();
    volume.apply({ kind: "create", clusters: 3 });
    const state: UsnVolumeState = usnChanges(undefined, volume.view(0n)).state;
    const cases: Array<[string, Parameters<ModelVolume["view"]>[1], RegExp]> = [
      ["a reformatted volume", { volumeSerial: 0x9999n }, /reformatted/],
      ["a recreated journal", { journalId: 0x78n }, /deleted and recreated/],
      ["a journal that wrapped past the token", { firstUsn: state.nextUsn + 8n }, /wrapped/],
      ["an unclean shutdown", { uncleanShutdown: true }, /not shut down cleanly/],
      [
        "a resized volume",
        { clusterCount: CLUSTERS + 8, allocation: new BlockMap(CLUSTER_SIZE, CLUSTERS + 8) },
        /resized/,
      ],
      ["a journal that went backwards", { nextUsn: 0n }, /backwards/],
    ];
    for (const [name, change, reason] of cases) {
      it(`on ${name}`, () => {
        const outcome = usnChanges(state, volume.view(state.nextUsn, change));
        expect(outcome.changes).toMatchObject({ kind: "reset", reason: expect.stringMatching(reason) });
      });
    }
    it("when no state was kept for the token", () => {
      expect(usnChanges(undefined, volume.view(0n)).changes).toMatchObject({ kind: "reset" });
    });
  });
});
