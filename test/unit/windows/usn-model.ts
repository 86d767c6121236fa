/**
 * A small NTFS-like volume for testing the USN tracker: files with runlists, a cluster bitmap, a
 * content version per cluster, and a change journal that records what NTFS records — one record
 * per new reason per open handle, a CLOSE record at close, and nothing at all for a defragmenter
 * moving clusters.
 */

import { BlockMap, type Run } from "../../../src/domain/block-map.ts";
import { USN_REASON } from "../../../src/formats/windows/layout.ts";
import type { FileRun } from "../../../src/formats/windows/retrieval-pointers.ts";
import type { UsnRecord } from "../../../src/formats/windows/usn-record.ts";
import type { UsnView } from "../../../src/adapters/windows-vss/usn-tracker.ts";

export const CLUSTERS = 600;
export const CLUSTER_SIZE = 4096;
const METADATA: Run = { start: 0, count: 24 };
const ROOT = 5;

interface ModelFile {
  runs: FileRun[];
  /** Reasons recorded since the file was opened; undefined when closed. */
  open?: number;
  parent: number;
}

export type Op =
  | { kind: "create"; clusters: number }
  | { kind: "write"; file: number; vcn: number; clusters: number }
  | { kind: "extend"; file: number; clusters: number }
  | { kind: "truncate"; file: number; clusters: number }
  | { kind: "delete"; file: number }
  | { kind: "close"; file: number }
  | { kind: "defrag"; file: number }
  | { kind: "mkdir" };

export class ModelVolume {
  readonly allocation = new BlockMap(CLUSTER_SIZE, CLUSTERS).addRange(METADATA.start, METADATA.count);
  readonly version = new Uint32Array(CLUSTERS);
  readonly files = new Map<number, ModelFile>();
  readonly journal: UsnRecord[] = [];
  readonly directories = [ROOT];
  #usn = 0n;
  #nextRecord = 64;
  #cursor = METADATA.count;

  constructor() {
    this.files.set(ROOT, { runs: this.#allocate(2), parent: ROOT });
  }

  get nextUsn(): bigint {
    return this.#usn;
  }

  /** Applies an operation; operations naming a file that does not exist pick one by index. */
  apply(op: Op): void {
    const ids = [...this.files.keys()].filter((id) => !this.directories.includes(id));
    const pick = (n: number) => ids[n % Math.max(1, ids.length)];
    switch (op.kind) {
      case "mkdir":
      case "create": {
        const clusters = op.kind === "create" ? op.clusters : 1;
        if (this.#free() < clusters + 2) return;
        const id = this.#nextRecord++;
        const parent = this.directories[id % this.directories.length] as number;
        this.files.set(id, { runs: this.#allocate(clusters), parent });
        if (op.kind === "mkdir") this.directories.push(id);
        this.#touchMft();
        this.#dirty(parent);
        this.#record(id, USN_REASON.FILE_CREATE);
        if (op.kind === "create") this.#record(id, USN_REASON.DATA_EXTEND);
        return;
      }
      case "write": {
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        if (f === undefined || id === undefined) return;
        const total = f.runs.reduce((n, r) => n + r.clusters, 0);
        if (total === 0) return;
        const from = op.vcn % total;
        for (let vcn = from; vcn < Math.min(total, from + op.clusters); vcn++) this.#bump(lcnOf(f.runs, vcn));
        this.#record(id, USN_REASON.DATA_OVERWRITE);
        return;
      }
      case "extend": {
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        if (f === undefined || id === undefined || this.#free() < op.clusters) return;
        const start = f.runs.reduce((n, r) => n + r.clusters, 0);
        for (const run of this.#allocate(op.clusters)) f.runs.push({ ...run, vcn: start + run.vcn });
        this.#touchMft();
        this.#dirty(f.parent);
        this.#record(id, USN_REASON.DATA_EXTEND);
        return;
      }
      case "truncate": {
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        if (f === undefined || id === undefined) return;
        let drop = op.clusters;
        while (drop > 0 && f.runs.length > 0) {
          const last = f.runs[f.runs.length - 1] as FileRun;
          const n = Math.min(drop, last.clusters);
          this.allocation.removeRange((last.lcn as number) + last.clusters - n, n);
          if (n === last.clusters) f.runs.pop();
          else f.runs[f.runs.length - 1] = { ...last, clusters: last.clusters - n };
          drop -= n;
        }
        this.#touchMft();
        this.#record(id, USN_REASON.DATA_TRUNCATION);
        return;
      }
      case "delete": {
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        if (f === undefined || id === undefined) return;
        for (const r of f.runs) this.allocation.removeRange(r.lcn as number, r.clusters);
        this.#touchMft();
        this.#dirty(f.parent);
        this.#record(id, USN_REASON.FILE_DELETE | USN_REASON.CLOSE);
        this.files.delete(id);
        return;
      }
      case "close": {
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        if (f?.open === undefined || id === undefined) return;
        this.#journal(id, f.open | USN_REASON.CLOSE);
        f.open = undefined;
        return;
      }
      case "defrag": {
        // FSCTL_MOVE_FILE: data moves to free clusters, the runlist changes, no journal record.
        const id = pick(op.file);
        const f = id === undefined ? undefined : this.files.get(id);
        const total = f?.runs.reduce((n, r) => n + r.clusters, 0) ?? 0;
        if (f === undefined || total === 0 || this.#free() < total) return;
        const moved = this.#allocate(total);
        for (const r of f.runs) this.allocation.removeRange(r.lcn as number, r.clusters);
        f.runs = moved;
        this.#touchMft();
        return;
      }
    }
  }

  /** What the tracker sees in a snapshot taken now. */
  view(previousUsn: bigint, extra: Partial<UsnView> = {}): UsnView {
    const files = new Map<number, readonly FileRun[]>();
    for (const [id, f] of this.files)
      files.set(
        id,
        f.runs.map((r) => ({ ...r })),
      );
    return {
      volumeSerial: 0x1234n,
      journalId: 0x77n,
      firstUsn: 0n,
      nextUsn: this.#usn,
      records: this.journal.filter((r) => r.usn >= previousUsn && r.usn < this.#usn),
      bootId: "boot-1",
      uncleanShutdown: false,
      clusterCount: CLUSTERS,
      clusterSize: CLUSTER_SIZE,
      allocation: this.allocation.clone(),
      metadata: [METADATA],
      files,
      ...extra,
    };
  }

  versions(): Uint32Array {
    return this.version.slice();
  }

  #record(id: number, reason: number): void {
    const f = this.files.get(id);
    if (f === undefined) return;
    if ((reason & USN_REASON.CLOSE) !== 0) {
      this.#journal(id, (f.open ?? 0) | reason);
      f.open = undefined;
      return;
    }
    // NTFS writes a record only when a reason is new for this open of the file.
    if (f.open !== undefined && (f.open & reason) === reason) return;
    f.open = (f.open ?? 0) | reason;
    this.#journal(id, f.open);
  }

  #journal(id: number, reason: number): void {
    const f = this.files.get(id);
    this.journal.push({
      majorVersion: 2,
      minorVersion: 0,
      recordLength: 96,
      fileReference: BigInt(id) | (1n << 48n),
      parentReference: BigInt(f?.parent ?? ROOT) | (1n << 48n),
      usn: this.#usn,
      reason,
      sourceInfo: 0,
    });
    this.#usn += 96n;
  }

  #touchMft(): void {
    this.#bump(METADATA.start + (this.#usn % BigInt(METADATA.count) === 0n ? 1 : 3));
  }

  /** A directory's index changes when an entry in it does. */
  #dirty(dir: number): void {
    const d = this.files.get(dir);
    if (d !== undefined && d.runs[0]?.lcn !== undefined && d.runs[0].lcn !== null) this.#bump(d.runs[0].lcn);
  }

  #bump(lcn: number): void {
    this.version[lcn] = (this.version[lcn] ?? 0) + 1;
  }

  #free(): number {
    return CLUSTERS - this.allocation.count();
  }

  /** First fit from the start, so freed clusters are reused at once (the hard case for a tracker). */
  #allocate(count: number): FileRun[] {
    this.#cursor = METADATA.count;
    const runs: FileRun[] = [];
    let vcn = 0;
    for (let scanned = 0; runs.reduce((n, r) => n + r.clusters, 0) < count && scanned < CLUSTERS; scanned++) {
      const c = this.#cursor;
      this.#cursor = this.#cursor + 1 >= CLUSTERS ? METADATA.count : this.#cursor + 1;
      if (this.allocation.has(c)) continue;
      this.allocation.add(c);
      this.#bump(c);
      const last = runs[runs.length - 1];
      if (last !== undefined && last.lcn !== null && last.lcn + last.clusters === c)
        runs[runs.length - 1] = { ...last, clusters: last.clusters + 1 };
      else runs.push({ vcn, lcn: c, clusters: 1 });
      vcn++;
    }
    return runs;
  }
}

function lcnOf(runs: readonly FileRun[], vcn: number): number {
  for (const r of runs)
    if (vcn >= r.vcn && vcn < r.vcn + r.clusters) return (r.lcn as number) + (vcn - r.vcn);
  throw new Error(`VCN ${vcn} is not mapped`);
}
