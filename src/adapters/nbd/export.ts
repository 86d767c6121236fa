/** What the NBD server serves: a disk-sized export that reads in pieces and may accept writes. */

import type { StatusExtent } from "../../formats/nbd/transmission.ts";

/** Part of a read: bytes, or a run that reads as zeros (sent as a hole when the client allows). */
export type ReadPiece =
  | { readonly offset: number; readonly data: Uint8Array }
  | { readonly offset: number; readonly zeroLength: number };

export interface NbdExport {
  readonly name: string;
  readonly description: string;
  readonly size: number;
  readonly writable: boolean;
  /** The grain reads and writes are best aligned to (advertised as the preferred block size). */
  readonly preferredBlock: number;
  /** Pieces covering exactly [offset, offset+length), in order. Callers must not modify the bytes. */
  read(offset: number, length: number): Promise<ReadPiece[]>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Makes the range read as zeros (WRITE_ZEROES and TRIM). */
  zero(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  /** base:allocation extents from `offset`, covering at most `length` bytes (a prefix is fine). */
  allocation(offset: number, length: number): Promise<StatusExtent[]>;
  close(): Promise<void>;
}

/** Copies pieces into one new buffer of `length` bytes (zeros for zero runs); the caller may modify it. */
export function flatten(pieces: readonly ReadPiece[], offset: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (const p of pieces) if ("data" in p) out.set(p.data, p.offset - offset);
  return out;
}
