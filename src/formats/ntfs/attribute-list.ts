/** $ATTRIBUTE_LIST: where the pieces of a file's attributes live when one record cannot hold them. */

import { Fields } from "../bytes.ts";

export interface AttributeListEntry {
  readonly type: number;
  readonly name: string;
  readonly lowestVcn: number;
  /** The MFT record holding this piece. */
  readonly record: number;
  readonly sequence: number;
  readonly instance: number;
}

export function parseAttributeList(bytes: Uint8Array, what: string): AttributeListEntry[] {
  const f: Fields = new Fields(bytes, "NTFS_INVALID", `${what} attribute list`);
  const entries: AttributeListEntry[] = [];
  let pos = 0;
  while (pos + 0x1a <= f.length) {
    const type = f.u32(pos);
    const length = f.u16(pos + 4);
    // Windows may leave zero padding after the last entry.
    if (type === 0 && length === 0) break;
    if (length < 0x1a || pos + length > f.length) f.fail(`entry at ${pos} has bad length ${length}`);
    const nameLength = f.u8(pos + 6);
    const nameOffset = f.u8(pos + 7);
    if (nameLength > 0 && nameOffset + nameLength * 2 > length) f.fail(`entry at ${pos}: name overflows it`);
    entries.push({
      type,
      name: nameLength === 0 ? "" : f.utf16(pos + nameOffset, nameLength),
      lowestVcn: f.u64(pos + 8),
      record: f.u32(pos + 0x10) + f.u16(pos + 0x14) * 2 ** 32,
      sequence: f.u16(pos + 0x16),
      instance: f.u16(pos + 0x18),
    });
    pos += length;
  }
  return entries;
}
