/** Big-endian field reading and writing for NBD payloads, with every read bounds-checked. */

import { check, NbdProtocolError } from "./limits.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads fields from one complete payload; any read past its end is a protocol error. */
export class WireReader {
  #pos = 0;
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.#pos;
  }

  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** A 64-bit field that must fit a JavaScript safe integer (offsets and sizes: 8 PiB is plenty). */
  u64(): number {
    const v = this.u64n();
    check(v <= BigInt(Number.MAX_SAFE_INTEGER), `${this.what}: 64-bit value ${v} is too large`);
    return Number(v);
  }

  u64n(): bigint {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#pos);
    this.#pos += 8;
    return v;
  }

  bytesOf(length: number): Uint8Array {
    this.#need(length);
    const out = this.bytes.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }

  /** A UTF-8 string of `length` bytes (the protocol requires valid UTF-8 for names). */
  string(length: number, max: number): string {
    check(length <= max, `${this.what}: string of ${length} bytes exceeds ${max}`);
    try {
      return utf8.decode(this.bytesOf(length));
    } catch (e) {
      if (e instanceof NbdProtocolError) throw e;
      throw new NbdProtocolError(`${this.what}: string is not valid UTF-8`);
    }
  }

  rest(): Uint8Array {
    return this.bytesOf(this.remaining);
  }

  /** Asserts the payload was consumed exactly. */
  end(): void {
    check(this.remaining === 0, `${this.what}: ${this.remaining} unexpected trailing bytes`);
  }

  #need(n: number): void {
    check(this.#pos + n <= this.bytes.length, `${this.what}: truncated (${this.bytes.length} bytes)`);
  }
}

/** Builds a payload field by field. */
export class WireWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    return this.raw(b);
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.raw(b);
  }

  u64(v: number | bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt(v));
    return this.raw(b);
  }

  raw(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  /** A length-prefixed (u32) UTF-8 string. */
  string32(s: string): this {
    const b = Buffer.from(s, "utf8");
    return this.u32(b.length).raw(b);
  }

  get length(): number {
    return this.#length;
  }

  toBytes(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}
