/**
 * The `--changed-extents` file: one "OFFSET LENGTH" pair of byte counts per line, from any external
 * change tracker. Blank lines and lines starting with # are ignored.
 */

import type { Extent } from "../domain/block-map.ts";

export class ChangedExtentsError extends Error {}

export function parseChangedExtents(text: string, capacity: number): Extent[] {
  const extents: Extent[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(/\s+/);
    const [offset, length] = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
    if (parts.length !== 2 || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) {
      throw new ChangedExtentsError(
        `line ${i + 1}: expected "OFFSET LENGTH" in bytes, got ${JSON.stringify(line)}`,
      );
    }
    if ((offset as number) + (length as number) > capacity) {
      throw new ChangedExtentsError(
        `line ${i + 1}: extent ${offset}+${length} ends past the disk (${capacity} bytes)`,
      );
    }
    extents.push({ offset: offset as number, length: length as number });
  }
  return extents;
}
