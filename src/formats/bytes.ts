/**
 * Safe access to on-disk structures. Every parser in src/formats reads through these helpers, so a
 * hostile or damaged structure can only ever produce a coded LifeboatError, never a RangeError, a
 * huge allocation or a read outside the area the structure lives in.
 */

import { type ErrorCode, LifeboatError } from "../domain/errors.ts";

/** Reads `length` bytes at `offset` of a disk or volume; resolves with exactly `length` bytes or rejects. */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** The largest single structure a parser reads (a GPT entry array, an MFT extent): beyond is hostile. */
export const MAX_STRUCTURE_BYTES = 16 << 20;

export function fail(code: ErrorCode, what: string, message: string): never {
  throw new LifeboatError(code, `${what}: ${message}`);
}

/** Bounds-checked little- and big-endian field access over one structure. */
export class Fields {
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly code: ErrorCode,
    readonly what: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  fail(message: string): never {
    return fail(this.code, this.what, message);
  }

  check(offset: number, size: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.length) {
      this.fail(`field at ${offset}+${size} lies outside its ${this.bytes.length}-byte structure`);
    }
  }

  u8(o: number): number {
    this.check(o, 1);
    return this.#view.getUint8(o);
  }

  i8(o: number): number {
    this.check(o, 1);
    return this.#view.getInt8(o);
  }

  u16(o: number): number {
    this.check(o, 2);
    return this.#view.getUint16(o, true);
  }

  u32(o: number): number {
    this.check(o, 4);
    return this.#view.getUint32(o, true);
  }

  /** An unsigned 64-bit field; values past 2^53 are not real disk quantities and fail. */
  u64(o: number): number {
    this.check(o, 8);
    return this.#safe(this.#view.getBigUint64(o, true), o);
  }

  /** A signed 64-bit field (VCNs: an empty attribute's highest VCN is −1). */
  i64(o: number): number {
    this.check(o, 8);
    const value = this.#view.getBigInt64(o, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      this.fail(`64-bit field at ${o} is implausibly large`);
    }
    return Number(value);
  }

  be16(o: number): number {
    this.check(o, 2);
    return this.#view.getUint16(o, false);
  }

  be32(o: number): number {
    this.check(o, 4);
    return this.#view.getUint32(o, false);
  }

  be64(o: number): number {
    this.check(o, 8);
    return this.#safe(this.#view.getBigUint64(o, false), o);
  }

  slice(o: number, n: number): Uint8Array {
    this.check(o, n);
    return this.bytes.subarray(o, o + n);
  }

  ascii(o: number, n: number): string {
    return String.fromCharCode(...this.slice(o, n));
  }

  /** `chars` UTF-16LE code units, cut at the first NUL. */
  utf16(o: number, chars: number): string {
    const raw = this.slice(o, chars * 2);
    let text = "";
    for (let i = 0; i < chars; i++) {
      const unit = (raw[2 * i] as number) | ((raw[2 * i + 1] as number) << 8);
      if (unit === 0) break;
      text += String.fromCharCode(unit);
    }
    return text;
  }

  /** A GUID in its mixed-endian on-disk form, printed the way Windows and sgdisk print it. */
  guid(o: number): string {
    const b = this.slice(o, 16);
    const hex = (i: number) => (b[i] as number).toString(16).padStart(2, "0");
    const part = (idx: number[]) => idx.map(hex).join("");
    return [part([3, 2, 1, 0]), part([5, 4]), part([7, 6]), part([8, 9]), part([10, 11, 12, 13, 14, 15])]
      .join("-")
      .toUpperCase();
  }

  #safe(value: bigint, o: number): number {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit field at ${o} is implausibly large`);
    return Number(value);
  }
}

/**
 * A reader confined to [0, limit) of an area that starts at `base` of the underlying reader. Reads
 * that fall outside, or are larger than MAX_STRUCTURE_BYTES, fail with `code` before touching the
 * disk: offsets in a damaged structure must never steer reads elsewhere.
 */
export function confinedReader(
  read: ReadAt,
  base: number,
  limit: number,
  code: ErrorCode,
  what: string,
): ReadAt {
  return (offset, length) => {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      length > MAX_STRUCTURE_BYTES ||
      offset + length > limit
    ) {
      return Promise.reject(
        new LifeboatError(
          code,
          `${what}: read of ${length} bytes at ${offset} lies outside its ${limit} bytes`,
        ),
      );
    }
    return read(base + offset, length);
  };
}

/** A copy of bytes [start, end): Buffer.slice would return a view, and parsers must never write into a caller's buffer. */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
