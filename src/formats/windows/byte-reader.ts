/**
 * Bounds-checked little-endian reads over a buffer returned by a Windows IOCTL. Every read states
 * what it is reading, so a truncated or hostile buffer fails with a message naming the field, never
 * with a RangeError from deep inside a DataView or, worse, a silent garbage value.
 */

/** A buffer that does not hold what its structure promises. */
export class WindowsFormatError extends Error {
  constructor(
    readonly structure: string,
    message: string,
  ) {
    super(`${structure}: ${message}`);
    this.name = "WindowsFormatError";
  }
}

export class ByteReader {
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly structure: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  fail(message: string): never {
    throw new WindowsFormatError(this.structure, message);
  }

  /** Throws unless [offset, offset+size) lies inside the buffer. */
  need(offset: number, size: number, field: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.bytes.length) {
      this.fail(`${field} at byte ${offset} (+${size}) lies outside the ${this.bytes.length}-byte buffer`);
    }
  }

  u8(offset: number, field: string): number {
    this.need(offset, 1, field);
    return this.#view.getUint8(offset);
  }

  u16(offset: number, field: string): number {
    this.need(offset, 2, field);
    return this.#view.getUint16(offset, true);
  }

  u32(offset: number, field: string): number {
    this.need(offset, 4, field);
    return this.#view.getUint32(offset, true);
  }

  /** A 64-bit value kept exact (USNs, file references, attributes). */
  u64big(offset: number, field: string): bigint {
    this.need(offset, 8, field);
    return this.#view.getBigUint64(offset, true);
  }

  i64big(offset: number, field: string): bigint {
    this.need(offset, 8, field);
    return this.#view.getBigInt64(offset, true);
  }

  /** A signed 64-bit value that must fit a JavaScript number exactly (offsets, LCNs, sizes). */
  i64(offset: number, field: string): number {
    const value = this.i64big(offset, field);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      this.fail(`${field} = ${value} is beyond 2^53`);
    }
    return Number(value);
  }

  /** A GUID in its Windows memory layout, formatted the way Windows prints it (upper case). */
  guid(offset: number, field: string): string {
    this.need(offset, 16, field);
    const b = this.bytes;
    const hex = (from: number, to: number, reverse: boolean): string => {
      const part = Array.from(b.subarray(offset + from, offset + to));
      if (reverse) part.reverse();
      return part.map((x) => x.toString(16).padStart(2, "0")).join("");
    };
    return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)]
      .join("-")
      .toUpperCase();
  }

  /** UTF-16LE text of `bytes` bytes. */
  utf16(offset: number, bytes: number, field: string): string {
    if (bytes % 2 !== 0) this.fail(`${field} has an odd byte length ${bytes}`);
    this.need(offset, bytes, field);
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + offset, bytes).toString("utf16le");
  }

  slice(offset: number, size: number, field: string): Uint8Array {
    this.need(offset, size, field);
    return this.bytes.subarray(offset, offset + size);
  }
}

/** Writes a GUID string (any case, with dashes) in Windows' memory layout. */
export function encodeGuid(text: string): Uint8Array {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(text);
  if (m === null) throw new RangeError(`not a GUID: ${text}`);
  const bytes = (hex: string) => (hex.match(/../g) ?? []).map((h) => parseInt(h, 16));
  const [, d1, d2, d3, d4, d5] = m as unknown as [string, string, string, string, string, string];
  return Uint8Array.from([
    ...bytes(d1).reverse(),
    ...bytes(d2).reverse(),
    ...bytes(d3).reverse(),
    ...bytes(d4),
    ...bytes(d5),
  ]);
}
