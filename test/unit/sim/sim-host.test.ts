import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SimHost, type SimHostOptions } from "../../../src/adapters/sim/index.ts";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { isZero, sameBytes } from "./bytes.ts";

const MiB = 1 << 20;
const small = (options: Partial<SimHostOptions> = {}) =>
  new SimHost({ seed: 1, diskSize: 8 * MiB, ...options });
const digest = (host: SimHost, disk: string) =>
  createHash("sha256")
    .update(host.disk(disk).read(0, host.disk(disk).capacity))
    .digest("hex");
const changed = (answer: unknown): BlockMap => {
  if (!(answer instanceof BlockMap)) throw new Error(`expected changes, got ${JSON.stringify(answer)}`);
  return answer;
};

async function scenario(seed: number): Promise<SimHost> {
  const host = small({ seed });
  const s1 = await host.openSnapshot(["disk-0", "disk-1"]);
  host.runWorkload(3_000);
  await s1.read("disk-1", 0, MiB);
  await s1.release();
  host.burst(MiB);
  host.uncleanReboot();
  host.resizeDisk("disk-0", 12 * MiB);
  host.runWorkload(2_000);
  return host;
}

describe("SimHost", () => {
  it("replays byte-identical disks for the same seed and call sequence", async () => {
    const [a, b] = [await scenario(5), await scenario(5)];
    for (const disk of ["disk-0", "disk-1"]) expect(digest(a, disk)).toBe(digest(b, disk));
    expect(a.readLog).toEqual(b.readLog);
    expect(a.clock.now()).toBe(b.clock.now());
    const [sa, sb] = [await a.openSnapshot(["disk-1"]), await b.openSnapshot(["disk-1"])];
    expect(sa.token("disk-1")).toBe(sb.token("disk-1"));
  });

  it("produces different disks for a different seed", async () => {
    const [a, b] = [await scenario(5), await scenario(6)];
    expect(digest(a, "disk-0")).not.toBe(digest(b, "disk-0"));
  });

  it("describes stable, labelled disks filled between 30% and 80%", async () => {
    const host = small({ disks: 3 });
    const disks = await host.describe();
    expect(disks.map((d) => d.id)).toEqual(["disk-0", "disk-1", "disk-2"]);
    for (const d of disks) {
      expect(d).toMatchObject({ capacity: 8 * MiB, sectorSize: 512 });
      expect(d.label).toContain(d.id);
      const fill = host.disk(d.id).allocatedFraction();
      expect(fill).toBeGreaterThan(0.3);
      expect(fill).toBeLessThan(0.8);
    }
  });

  it("keeps a snapshot's bytes while the disk keeps changing", async () => {
    const host = small({ diffAreaBytes: 64 * MiB });
    const before = host.disk("disk-0").read(0, 8 * MiB);
    const snapshot = await host.openSnapshot(["disk-0"]);
    host.runWorkload(5_000);
    expect(sameBytes(host.disk("disk-0").read(0, 8 * MiB), before)).toBe(false);
    expect(sameBytes(await snapshot.read("disk-0", 0, 8 * MiB), before)).toBe(true);
    expect(sameBytes(await snapshot.read("disk-0", 4096 + 512, 3 * 512), before.subarray(4608, 6144))).toBe(
      true,
    );
    expect(snapshot.consistency).toBe("application");
    expect(snapshot.warnings).toEqual([]);
  });

  it("restores freed clusters as zeros in the oracle while the disk keeps their stale bytes", async () => {
    const host = small({ writeRate: 0 });
    const disk = host.disk("disk-0");
    const file = disk.files().find((f) => f.extents.some((e) => !isZero(disk.read(e.offset, e.length))));
    if (file === undefined) throw new Error("no file with data");
    const extents = [...file.extents];
    const stale = extents.map((e) => disk.read(e.offset, e.length));
    disk.deleteFile(file);
    const snapshot = await host.openSnapshot(["disk-0"]);
    const expected = host.oracle.expected(snapshot.id, "disk-0");
    for (const [i, e] of extents.entries()) {
      const bytes = stale[i] as Uint8Array;
      expect(sameBytes(disk.read(e.offset, e.length), bytes)).toBe(true);
      expect(sameBytes(await snapshot.read("disk-0", e.offset, e.length), bytes)).toBe(true);
      expect(isZero(expected.read(e.offset, e.length))).toBe(true);
    }
  });

  it("makes the oracle the snapshot's bytes with exactly the unallocated clusters zeroed", async () => {
    const host = small();
    host.runWorkload(4_000);
    const snapshot = await host.openSnapshot(["disk-1"]);
    const allocation = await snapshot.allocation("disk-1");
    if (allocation === null) throw new Error("no allocation");
    const bytes = await snapshot.read("disk-1", 0, 8 * MiB);
    const expected = host.oracle.expected(snapshot.id, "disk-1").read(0, 8 * MiB);
    for (let c = 0; c < allocation.blocks; c++) {
      const cluster = bytes.subarray(c * 4096, (c + 1) * 4096);
      const want = allocation.has(c) ? cluster : new Uint8Array(4096);
      if (!sameBytes(expected.subarray(c * 4096, (c + 1) * 4096), want))
        throw new Error(`cluster ${c} differs`);
    }
    host.oracle.drop(snapshot.id);
    expect(() => host.oracle.expected(snapshot.id, "disk-1")).toThrow(RangeError);
  });

  it("aborts a snapshot whose diff area overflows and rejects its reads with SNAPSHOT_ABORTED", async () => {
    const host = small({ diffAreaBytes: 2 * MiB });
    const snapshot = await host.openSnapshot(["disk-0", "disk-1"]);
    host.burst(MiB);
    expect(snapshot.abortReason()).toBeUndefined();
    host.burst(4 * MiB);
    expect(snapshot.abortReason()).toMatch(/diff area/);
    const read = snapshot.read("disk-0", 0, 65536);
    await expect(read).rejects.toSatisfy((e) => isLifeboatError(e, "SNAPSHOT_ABORTED"));
    expect(host.liveSnapshots()).toEqual([]);
    await snapshot.release();
  });

  it("lets the workload write while reads take virtual time, so heavy writes abort a long transfer", async () => {
    const host = small({ writeRate: 20 * MiB, readBytesPerSecond: 4 * MiB, diffAreaBytes: 2 * MiB });
    const snapshot = await host.openSnapshot(["disk-0"]);
    const started = host.clock.now();
    let failure: unknown;
    try {
      for (let offset = 0; offset < 8 * MiB; offset += 65536) await snapshot.read("disk-0", offset, 65536);
    } catch (e) {
      failure = e;
    }
    expect(isLifeboatError(failure, "SNAPSHOT_ABORTED")).toBe(true);
    expect(host.clock.now()).toBeGreaterThan(started);
    expect(host.readLog.length).toBeGreaterThan(0);
  });

  it("logs every read and charges it virtual time at the read rate", async () => {
    const host = small({ readBytesPerSecond: MiB, writeRate: 0 });
    const snapshot = await host.openSnapshot(["disk-0"]);
    const started = host.clock.now();
    await snapshot.read("disk-0", 65536, 65536);
    await snapshot.read("disk-0", 0, 512 * 1024);
    expect(host.readLog.map(({ disk, offset, length }) => ({ disk, offset, length }))).toEqual([
      { disk: "disk-0", offset: 65536, length: 65536 },
      { disk: "disk-0", offset: 0, length: 512 * 1024 },
    ]);
    expect(host.clock.now() - started).toBe(562);
    host.clearReadLog();
    expect(host.readLog).toEqual([]);
    await expect(snapshot.read("disk-0", 8 * MiB - 512, 1024)).rejects.toThrow(RangeError);
  });

  it("stops diff-area accounting at release and tolerates a second release", async () => {
    const host = small({ diffAreaBytes: MiB });
    const snapshot = await host.openSnapshot(["disk-0"]);
    await snapshot.release();
    await snapshot.release();
    host.burst(4 * MiB);
    expect(snapshot.diffAreaUsed).toBe(0);
    expect(snapshot.abortReason()).toBeUndefined();
    await expect(snapshot.read("disk-0", 0, 512)).rejects.toSatisfy((e) => isLifeboatError(e, "INTERNAL"));
  });

  it("reports writes after a snapshot in the next snapshot's changes, not in its own", async () => {
    const host = small();
    const s1 = await host.openSnapshot(["disk-0"]);
    const t1 = s1.token("disk-0") as string;
    host.runWorkload(2_000);
    const s2 = await host.openSnapshot(["disk-0"]);
    const t2 = s2.token("disk-0") as string;
    host.runWorkload(1_000);
    const afterS2 = host.writtenSinceLastSnapshot("disk-0").coarsen(16384, "any");
    expect(afterS2.isEmpty()).toBe(false);
    const inS2 = changed(await s2.changes("disk-0", t1));
    expect(inS2.isEmpty()).toBe(false);
    const s3 = await host.openSnapshot(["disk-0"]);
    const inS3 = changed(await s3.changes("disk-0", t2));
    expect(afterS2.difference(inS3).isEmpty()).toBe(true);
    // s2's change set is frozen at its token: asking again after more writes gives the same answer.
    expect(changed(await s2.changes("disk-0", t1)).equals(inS2)).toBe(true);
  });

  it("forgets epochs only up to the committed token", async () => {
    const host = small();
    const t1 = (await host.openSnapshot(["disk-0"])).token("disk-0") as string;
    host.runWorkload(500);
    const t2 = (await host.openSnapshot(["disk-0"])).token("disk-0") as string;
    host.runWorkload(500);
    const s3 = await host.openSnapshot(["disk-0"]);
    host.commitToken("disk-0", t2);
    expect(await s3.changes("disk-0", t1)).toMatchObject({ kind: "reset" });
    expect(changed(await s3.changes("disk-0", t2)).isEmpty()).toBe(false);
  });

  it("loses every tracker and aborts live snapshots on an unclean reboot", async () => {
    const host = small();
    const s1 = await host.openSnapshot(["disk-0", "disk-1"]);
    host.uncleanReboot();
    expect(s1.abortReason()).toMatch(/reboot/);
    await expect(s1.read("disk-1", 0, 512)).rejects.toSatisfy((e) => isLifeboatError(e, "SNAPSHOT_ABORTED"));
    const s2 = await host.openSnapshot(["disk-0", "disk-1"]);
    for (const disk of ["disk-0", "disk-1"]) {
      const answer = await s2.changes(disk, s1.token(disk) as string);
      expect(answer).toMatchObject({ kind: "reset" });
      expect(JSON.stringify(answer)).toMatch(/unclean reboot/);
    }
  });

  it("grows a disk and resets its tracker so the engine must resync", async () => {
    const host = small();
    const s1 = await host.openSnapshot(["disk-0", "disk-1"]);
    host.resizeDisk("disk-1", 16 * MiB);
    expect((await host.describe()).map((d) => d.capacity)).toEqual([8 * MiB, 16 * MiB]);
    const s2 = await host.openSnapshot(["disk-0", "disk-1"]);
    expect(s2.disks.find((d) => d.id === "disk-1")?.capacity).toBe(16 * MiB);
    expect(await s2.changes("disk-1", s1.token("disk-1") as string)).toMatchObject({ kind: "reset" });
    expect(await s2.changes("disk-0", s1.token("disk-0") as string)).toBeInstanceOf(BlockMap);
    expect((await s2.allocation("disk-1"))?.blocks).toBe((16 * MiB) / 4096);
    expect(s1.disks.find((d) => d.id === "disk-1")?.capacity).toBe(8 * MiB);
  });

  it("refuses a snapshot of a disk the host does not have", async () => {
    const host = small();
    await expect(host.openSnapshot(["disk-9"])).rejects.toSatisfy((e) =>
      isLifeboatError(e, "SNAPSHOT_FAILED"),
    );
  });
});
