/** Byte comparisons that stay fast on whole disks (vitest's deep equality walks element by element). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

export function isZero(bytes: Uint8Array): boolean {
  return sameBytes(bytes, new Uint8Array(bytes.length));
}
