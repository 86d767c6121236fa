/**
 * A set of fixed-size blocks on a disk (changed blocks, allocated clusters, chunks to read).
 *
 * Stored as a paged bitmap: pages of 65 536 bits are allocated only when a bit in them is set, so
 * a sparse map of a 2 TiB disk at 64 KiB grain costs a few pages, and a dense one at most 4 MiB
 * (one bit per block, never more). Serialised as varint-encoded runs, which is compact for the
 * clustered patterns real disks have.
 */

const PAGE_BITS = 1 << 16;
const PAGE_WORDS = PAGE_BITS >>> 5;

export interface Run {
  /** First block index of the run. */
  readonly start: number;
  /** Number of consecutive blocks in the run (≥ 1). */
  readonly count: number;
}

/** A byte range on a disk. */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

export class BlockMap {
  readonly #pages = new Map<number, Uint32Array>();

  /**
   * @param grain bytes per block
   * @param blocks number of blocks the map covers (indexes 0 … blocks-1)
   */
  constructor(
    readonly grain: number,
    readonly blocks: number,
  ) {
    if (!Number.isSafeInteger(grain) || grain <= 0)
      throw new RangeError(`grain must be a positive integer: ${grain}`);
    if (!Number.isSafeInteger(blocks) || blocks < 0) throw new RangeError(`blocks must be ≥ 0: ${blocks}`);
  }

  /** A map covering `capacity` bytes at `grain` (the last block may be partial). */
  static forCapacity(grain: number, capacity: number): BlockMap {
    return new BlockMap(grain, Math.ceil(capacity / grain));
  }

  static full(grain: number, blocks: number): BlockMap {
    return new BlockMap(grain, blocks).addRange(0, blocks);
  }

  /** Blocks touched by any of the byte extents (a partial touch counts). */
  static fromExtents(grain: number, capacity: number, extents: Iterable<Extent>): BlockMap {
    const map = BlockMap.forCapacity(grain, capacity);
    for (const e of extents) {
      if (e.length <= 0) continue;
      const first = Math.floor(e.offset / grain);
      const last = Math.floor((e.offset + e.length - 1) / grain);
      map.addRange(first, last - first + 1);
    }
    return map;
  }

  static fromRuns(grain: number, blocks: number, runs: Iterable<Run>): BlockMap {
    const map = new BlockMap(grain, blocks);
    for (const r of runs) map.addRange(r.start, r.count);
    return map;
  }

  has(index: number): boolean {
    const page = this.#pages.get(Math.floor(index / PAGE_BITS));
    if (page === undefined) return false;
    const bit = index % PAGE_BITS;
    return ((page[bit >>> 5] as number) & (1 << (bit & 31))) !== 0;
  }

  add(index: number): this {
    return this.addRange(index, 1);
  }

  /** Adds blocks [start, start+count). */
  addRange(start: number, count: number): this {
    this.#checkRange(start, count);
    let i = start;
    const end = start + count;
    while (i < end) {
      const pageNo = Math.floor(i / PAGE_BITS);
      const page = this.#page(pageNo);
      const pageEnd = Math.min(end, (pageNo + 1) * PAGE_BITS);
      for (let bit = i % PAGE_BITS, stop = bit + (pageEnd - i); bit < stop;) {
        if ((bit & 31) === 0 && stop - bit >= 32) {
          page[bit >>> 5] = 0xffffffff;
          bit += 32;
        } else {
          page[bit >>> 5] = (page[bit >>> 5] as number) | (1 << (bit & 31));
          bit++;
        }
      }
      i = pageEnd;
    }
    return this;
  }

  /** Removes blocks [start, start+count). */
  removeRange(start: number, count: number): this {
    this.#checkRange(start, count);
    for (let i = start, end = start + count; i < end;) {
      const pageNo = Math.floor(i / PAGE_BITS);
      const pageEnd = Math.min(end, (pageNo + 1) * PAGE_BITS);
      const page = this.#pages.get(pageNo);
      if (page !== undefined) {
        for (let bit = i % PAGE_BITS, stop = bit + (pageEnd - i); bit < stop; bit++) {
          page[bit >>> 5] = (page[bit >>> 5] as number) & ~(1 << (bit & 31));
        }
        if (page.every((w) => w === 0)) this.#pages.delete(pageNo);
      }
      i = pageEnd;
    }
    return this;
  }

  /** Number of blocks in the set. */
  count(): number {
    let n = 0;
    for (const page of this.#pages.values()) for (const w of page) n += popcount(w);
    return n;
  }

  isEmpty(): boolean {
    for (const page of this.#pages.values()) if (page.some((w) => w !== 0)) return false;
    return true;
  }

  clone(): BlockMap {
    const copy = new BlockMap(this.grain, this.blocks);
    for (const [no, page] of this.#pages) copy.#pages.set(no, page.slice());
    return copy;
  }

  union(other: BlockMap): BlockMap {
    return this.#combine(other, (a, b) => a | b, true);
  }

  intersect(other: BlockMap): BlockMap {
    return this.#combine(other, (a, b) => a & b, false);
  }

  /** Blocks in this map and not in `other`. */
  difference(other: BlockMap): BlockMap {
    return this.#combine(other, (a, b) => a & ~b, true);
  }

  /** Set bits in ascending order. */
  *indexes(): Generator<number> {
    for (const run of this.runs()) for (let i = 0; i < run.count; i++) yield run.start + i;
  }

  /** Maximal runs of consecutive set blocks, in ascending order. */
  *runs(): Generator<Run> {
    let start = -1;
    let count = 0;
    for (const pageNo of [...this.#pages.keys()].sort((a, b) => a - b)) {
      const page = this.#pages.get(pageNo) as Uint32Array;
      const base = pageNo * PAGE_BITS;
      for (let w = 0; w < PAGE_WORDS; w++) {
        const word = page[w] as number;
        if (word === 0) continue;
        for (let b = 0; b < 32; b++) {
          if ((word & (1 << b)) === 0) continue;
          const index = base + w * 32 + b;
          if (start >= 0 && start + count === index) {
            count++;
          } else {
            if (start >= 0) yield { start, count };
            start = index;
            count = 1;
          }
        }
      }
    }
    if (start >= 0) yield { start, count };
  }

  /** Byte extents of the set blocks, clipped to `capacity`. */
  *extents(capacity = this.blocks * this.grain): Generator<Extent> {
    for (const r of this.runs()) {
      const offset = r.start * this.grain;
      const end = Math.min(capacity, (r.start + r.count) * this.grain);
      if (end > offset) yield { offset, length: end - offset };
    }
  }

  /**
   * This map at a coarser grain (`grain` must be a multiple of this map's grain). With `any`, a
   * coarse block is set when any fine block in it is set; with `all`, only when every fine block
   * that exists in it is set.
   */
  coarsen(grain: number, mode: "any" | "all"): BlockMap {
    if (grain % this.grain !== 0) throw new RangeError(`grain ${grain} is not a multiple of ${this.grain}`);
    const factor = grain / this.grain;
    const coarse = new BlockMap(grain, Math.ceil(this.blocks / factor));
    if (mode === "any") {
      for (const r of this.runs()) {
        const first = Math.floor(r.start / factor);
        const last = Math.floor((r.start + r.count - 1) / factor);
        coarse.addRange(first, last - first + 1);
      }
      return coarse;
    }
    for (const r of this.runs()) {
      const first = Math.ceil(r.start / factor);
      const endFine = r.start + r.count;
      // A trailing coarse block that runs past the end of the map is complete when the run reaches the end.
      const end = endFine === this.blocks ? Math.ceil(endFine / factor) : Math.floor(endFine / factor);
      if (end > first) coarse.addRange(first, end - first);
    }
    return coarse;
  }

  equals(other: BlockMap): boolean {
    if (other.grain !== this.grain || other.blocks !== this.blocks) return false;
    const a = [...this.runs()];
    const b = [...other.runs()];
    return a.length === b.length && a.every((r, i) => r.start === b[i]?.start && r.count === b[i]?.count);
  }

  /** Bytes of memory held by the bitmap pages (for the memory-bound tests and benchmarks). */
  memoryBytes(): number {
    return this.#pages.size * PAGE_WORDS * 4;
  }

  /** Compact form: varint grain, blocks, run count, then (gap, length) varint pairs. */
  serialize(): Uint8Array {
    const out: number[] = [];
    const runs = [...this.runs()];
    writeVarint(out, this.grain);
    writeVarint(out, this.blocks);
    writeVarint(out, runs.length);
    let cursor = 0;
    for (const r of runs) {
      writeVarint(out, r.start - cursor);
      writeVarint(out, r.count);
      cursor = r.start + r.count;
    }
    return Uint8Array.from(out);
  }

  static deserialize(bytes: Uint8Array): BlockMap {
    const reader = { bytes, pos: 0 };
    const grain = readVarint(reader);
    const blocks = readVarint(reader);
    const runCount = readVarint(reader);
    const map = new BlockMap(grain, blocks);
    let cursor = 0;
    for (let i = 0; i < runCount; i++) {
      const start = cursor + readVarint(reader);
      const count = readVarint(reader);
      if (count === 0) throw new RangeError("block map: empty run");
      map.addRange(start, count);
      cursor = start + count;
    }
    if (reader.pos !== bytes.length) throw new RangeError("block map: trailing bytes");
    return map;
  }

  #page(pageNo: number): Uint32Array {
    let page = this.#pages.get(pageNo);
    if (page === undefined) {
      page = new Uint32Array(PAGE_WORDS);
      this.#pages.set(pageNo, page);
    }
    return page;
  }

  #checkRange(start: number, count: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0) {
      throw new RangeError(`bad block range ${start}+${count}`);
    }
    if (start + count > this.blocks)
      throw new RangeError(`block range ${start}+${count} exceeds ${this.blocks}`);
  }

  #combine(other: BlockMap, op: (a: number, b: number) => number, keepLeftOnly: boolean): BlockMap {
    if (other.grain !== this.grain || other.blocks !== this.blocks) {
      throw new RangeError(
        `block maps differ in shape: ${this.grain}×${this.blocks} vs ${other.grain}×${other.blocks}`,
      );
    }
    const result = new BlockMap(this.grain, this.blocks);
    const pageNos = new Set<number>(this.#pages.keys());
    if (op(0, 0xffffffff) !== 0) for (const no of other.#pages.keys()) pageNos.add(no);
    const empty = new Uint32Array(PAGE_WORDS);
    for (const no of pageNos) {
      const a = this.#pages.get(no) ?? empty;
      const b = other.#pages.get(no) ?? empty;
      if (!keepLeftOnly && (a === empty || b === empty)) continue;
      const page = new Uint32Array(PAGE_WORDS);
      let any = 0;
      for (let w = 0; w < PAGE_WORDS; w++) {
        const v = op(a[w] as number, b[w] as number) >>> 0;
        page[w] = v;
        any |= v;
      }
      if (any !== 0) result.#pages.set(no, page);
    }
    return result;
  }
}

function popcount(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function writeVarint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

export function readVarint(reader: { bytes: Uint8Array; pos: number }): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (reader.pos >= reader.bytes.length) throw new RangeError("varint: truncated");
    const byte = reader.bytes[reader.pos++] as number;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return value;
    scale *= 0x80;
  }
  throw new RangeError("varint: too long");
}
