/**
 * A raw disk image or Linux block device as a Source. It has no change tracker: changes are found
 * by content hash against the previous point, or given by an external tracker (--changed-extents).
 * It is read in place, not from a snapshot, so its points are marked consistency "none".
 */

import { createHash } from "node:crypto";
import { type FileHandle, open, realpath } from "node:fs/promises";
import { basename } from "node:path";
import type { BlockMap } from "../../domain/block-map.ts";
import type { Disk } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { ChangeReset } from "../../domain/snapshot.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";
import { buildAllocatedMap } from "../../formats/disk-layout/allocated-map.ts";
import { assertSupportedLayout, layoutWarnings } from "../../formats/disk-layout/disk-layout.ts";
import { deviceSize } from "./device-size.ts";

export class ImageSource implements Source {
  private constructor(
    readonly name: string,
    readonly path: string,
    readonly disk: Disk,
  ) {}

  /** Opens `path`; the source name defaults to the file name plus a short hash of its real path. */
  static async open(path: string, name?: string): Promise<ImageSource> {
    let real: string;
    let capacity: number;
    try {
      real = await realpath(path);
      capacity = await deviceSize(real);
    } catch (e) {
      throw new LifeboatError("SOURCE_NOT_FOUND", `cannot open image ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const stem =
      basename(real)
        .replace(/[^A-Za-z0-9._-]/g, "_")
        .replace(/^[^A-Za-z0-9]+/, "") || "image";
    const hash = createHash("sha256").update(real).digest("hex").slice(0, 8);
    const sourceName = name ?? `${stem.slice(0, 100)}-${hash}`;
    return new ImageSource(sourceName, real, { id: "disk0", capacity, sectorSize: 512, label: real });
  }

  async describe(): Promise<readonly Disk[]> {
    return [this.disk];
  }

  async openSnapshot(): Promise<SourceSnapshot> {
    const handle = await open(this.path, "r");
    const reader = new ImageReader(this.path, this.disk, handle);
    try {
      await reader.readLayout();
    } catch (e) {
      await reader.release();
      throw e;
    }
    return reader;
  }
}

class ImageReader implements SourceSnapshot {
  readonly id: string;
  readonly takenAt = Date.now();
  readonly consistency = "none" as const;
  readonly disks: readonly Disk[];
  readonly warnings: string[];
  #handle: FileHandle | undefined;
  #allocation: BlockMap | null = null;

  constructor(
    readonly path: string,
    readonly disk: Disk,
    handle: FileHandle,
  ) {
    this.id = `image:${path}@${this.takenAt}`;
    this.disks = [disk];
    this.#handle = handle;
    this.warnings = [
      `${path} is read in place, not from a snapshot: keep writers away from it while it is backed up`,
    ];
  }

  async read(_disk: string, offset: number, length: number): Promise<Uint8Array> {
    const handle = this.#handle;
    if (handle === undefined) throw new LifeboatError("INTERNAL", "image read after release");
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new LifeboatError(
          "SOURCE_READ",
          `${this.path} ended at ${offset + done}, inside the disk (was it truncated?)`,
        );
      }
      done += bytesRead;
    }
    return buffer;
  }

  /**
   * Reads the partition table and file systems once, at the snapshot's start: trusted NTFS volumes
   * count by $Bitmap, everything else (tables, gaps, other file systems) whole.
   */
  async readLayout(): Promise<void> {
    const { layout, map } = await buildAllocatedMap(
      (o, n) => this.read(this.disk.id, o, n),
      this.disk.capacity,
    );
    assertSupportedLayout(layout);
    this.#allocation = map;
    this.warnings.push(...layoutWarnings(layout).map((w) => `${this.path}: ${w}`));
  }

  async allocation(): Promise<BlockMap | null> {
    return this.#allocation;
  }

  async changes(): Promise<BlockMap | ChangeReset> {
    return { kind: "reset", reason: "an image has no change tracker" };
  }

  token(): null {
    return null;
  }

  abortReason(): undefined {
    return undefined;
  }

  async release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}
