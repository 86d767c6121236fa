/**
 * A copy-on-write overlay over a read-only export (`serve-nbd --writable`): writes land in a local
 * sparse file at the same offsets, never in the repository. The overlay works at the base's grain
 * (the chunk size): the first partial write to a chunk copies the chunk up from the base, whole-chunk
 * zeroing and trimming only mark the chunk as zeros. Each chunk has one of three states — base, in
 * the file, zeros — and copy-ups of one chunk are serialised so concurrent writes never lose bytes.
 * The overlay lives as long as the server: the file is removed on close.
 */

import { constants } from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BlockMap } from "../../domain/block-map.ts";
import { AllocationFlag } from "../../formats/nbd/protocol.ts";
import type { StatusExtent } from "../../formats/nbd/transmission.ts";
import { flatten, type NbdExport, type ReadPiece } from "./export.ts";

type State = "base" | "file" | "zero";

export class OverlayExport implements NbdExport {
  readonly writable = true;
  readonly #base: NbdExport;
  readonly #file: FileHandle;
  readonly #grain: number;
  readonly #inFile: BlockMap;
  readonly #zeroed: BlockMap;
  readonly #locks = new Map<number, Promise<void>>();
  #bytesWritten = 0;

  private constructor(
    base: NbdExport,
    readonly path: string,
    file: FileHandle,
  ) {
    this.#base = base;
    this.#file = file;
    this.#grain = base.preferredBlock;
    this.#inFile = BlockMap.forCapacity(this.#grain, base.size);
    this.#zeroed = BlockMap.forCapacity(this.#grain, base.size);
  }

  /** Creates a new sparse overlay file in `dir` (never reuses one: stale writes must not reappear). */
  static async create(base: NbdExport, dir: string): Promise<OverlayExport> {
    const path = join(
      dir,
      `lifeboat-overlay-${base.name}-${process.pid}-${randomBytes(4).toString("hex")}.img`,
    );
    const file = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    await file.truncate(base.size);
    return new OverlayExport(base, path, file);
  }

  get name(): string {
    return this.#base.name;
  }

  get description(): string {
    return `${this.#base.description} (writable overlay: writes stay local, never reach the repository)`;
  }

  get size(): number {
    return this.#base.size;
  }

  get preferredBlock(): number {
    return this.#grain;
  }

  /** Bytes clients have written (or zeroed) through this overlay. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  async read(offset: number, length: number): Promise<ReadPiece[]> {
    const pieces: ReadPiece[] = [];
    for (const run of this.#runs(offset, length)) {
      if (run.state === "base") pieces.push(...(await this.#base.read(run.offset, run.length)));
      else if (run.state === "zero") pieces.push({ offset: run.offset, zeroLength: run.length });
      else pieces.push({ offset: run.offset, data: await this.#readFile(run.offset, run.length) });
    }
    return pieces;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    await this.#eachChunk(offset, data.length, (at, n) =>
      this.#writeInChunk(at, data.subarray(at - offset, at - offset + n)),
    );
    this.#bytesWritten += data.length;
  }

  async zero(offset: number, length: number): Promise<void> {
    await this.#eachChunk(offset, length, async (at, n) => {
      const index = Math.floor(at / this.#grain);
      if (n === this.#chunkLength(index)) {
        this.#inFile.removeRange(index, 1);
        this.#zeroed.add(index);
      } else {
        await this.#writeInChunk(at, new Uint8Array(n));
      }
    });
    this.#bytesWritten += length;
  }

  async flush(): Promise<void> {
    await this.#file.sync();
  }

  async allocation(offset: number, length: number): Promise<StatusExtent[]> {
    const extents: StatusExtent[] = [];
    for (const run of this.#runs(offset, length)) {
      if (run.state === "base") extents.push(...(await this.#base.allocation(run.offset, run.length)));
      else
        extents.push({
          length: run.length,
          flags: run.state === "zero" ? AllocationFlag.HOLE | AllocationFlag.ZERO : 0,
        });
      if (extents.length >= 8192) break;
    }
    return extents;
  }

  async close(): Promise<void> {
    await this.#file.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
    await this.#base.close();
  }

  #state(index: number): State {
    if (this.#inFile.has(index)) return "file";
    return this.#zeroed.has(index) ? "zero" : "base";
  }

  #chunkLength(index: number): number {
    return Math.min(this.#grain, this.size - index * this.#grain);
  }

  /** Maximal runs of one state covering [offset, offset+length). */
  *#runs(offset: number, length: number): Generator<{ offset: number; length: number; state: State }> {
    const end = offset + length;
    let run: { offset: number; length: number; state: State } | undefined;
    for (let index = Math.floor(offset / this.#grain); index * this.#grain < end; index++) {
      const from = Math.max(offset, index * this.#grain);
      const to = Math.min(end, (index + 1) * this.#grain);
      const state = this.#state(index);
      if (run !== undefined && run.state === state) run.length += to - from;
      else {
        if (run !== undefined) yield run;
        run = { offset: from, length: to - from, state };
      }
    }
    if (run !== undefined) yield run;
  }

  async #eachChunk(
    offset: number,
    length: number,
    fn: (at: number, n: number) => Promise<void>,
  ): Promise<void> {
    const end = offset + length;
    const work: Promise<void>[] = [];
    for (let index = Math.floor(offset / this.#grain); index * this.#grain < end; index++) {
      const from = Math.max(offset, index * this.#grain);
      const to = Math.min(end, (index + 1) * this.#grain);
      work.push(this.#locked(index, () => fn(from, to - from)));
    }
    await Promise.all(work);
  }

  /** Writes within one chunk, copying the chunk up from the base first if the write does not cover it. */
  async #writeInChunk(at: number, data: Uint8Array): Promise<void> {
    const index = Math.floor(at / this.#grain);
    const start = index * this.#grain;
    const chunkLength = this.#chunkLength(index);
    const state = this.#state(index);
    if (state === "file" || data.length === chunkLength) {
      await this.#writeFile(at, data);
    } else {
      const chunk =
        state === "zero"
          ? Buffer.alloc(chunkLength)
          : flatten(await this.#base.read(start, chunkLength), start, chunkLength);
      chunk.set(data, at - start);
      await this.#writeFile(start, chunk);
    }
    this.#zeroed.removeRange(index, 1);
    this.#inFile.add(index);
  }

  async #locked(index: number, fn: () => Promise<void>): Promise<void> {
    const previous = this.#locks.get(index) ?? Promise.resolve();
    const mine = previous.then(fn, fn);
    const tail = mine.catch(() => undefined);
    this.#locks.set(index, tail);
    try {
      await mine;
    } finally {
      if (this.#locks.get(index) === tail) this.#locks.delete(index);
    }
  }

  async #writeFile(offset: number, data: Uint8Array): Promise<void> {
    for (let done = 0; done < data.length;) {
      const { bytesWritten } = await this.#file.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async #readFile(offset: number, length: number): Promise<Uint8Array> {
    const out = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const { bytesRead } = await this.#file.read(out, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return out;
  }
}
