/** A disk image file or block device as a restore target. */

import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { LifeboatError } from "../../domain/errors.ts";
import type { BlockTarget } from "../../ports/block-target.ts";
import { deviceSize } from "../image/device-size.ts";

const ZEROS = new Uint8Array(1 << 20);

export class FileTarget implements BlockTarget {
  private constructor(
    readonly path: string,
    readonly size: number,
    readonly isNew: boolean,
    readonly handle: FileHandle,
  ) {}

  /**
   * Opens a target for a disk of `capacity` bytes. A missing file is created sparse (and so already
   * reads as zeros); a smaller regular file is extended; a block device must be large enough.
   */
  static async open(path: string, capacity: number): Promise<FileTarget> {
    let handle: FileHandle;
    let isNew = false;
    try {
      handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
      isNew = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw targetError(path, e);
      handle = await open(path, "r+").catch((err: unknown) => {
        throw targetError(path, err);
      });
    }
    const st = await handle.stat();
    let size = st.isFile() ? st.size : await deviceSize(path);
    if (st.isFile() && size < capacity) {
      await handle.truncate(capacity);
      size = capacity;
    }
    return new FileTarget(path, size, isNew, handle);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }

  async zero(offset: number, length: number): Promise<void> {
    for (let done = 0; done < length;) {
      const n = Math.min(ZEROS.length, length - done);
      await this.write(offset + done, ZEROS.subarray(0, n));
      done += n;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer;
  }

  async flush(): Promise<void> {
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

function targetError(path: string, cause: unknown): LifeboatError {
  return new LifeboatError("TARGET_IO", `cannot open restore target ${path}: ${(cause as Error).message}`, {
    cause,
  });
}
