import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { WindowsFormatError } from "../../../src/formats/windows/byte-reader.ts";
import {
  encodeVolumeBitmap,
  parseVolumeBitmap,
  VolumeBitmapAssembler,
} from "../../../src/formats/windows/volume-bitmap.ts";

/** The 96 bytes of $Bitmap on a 767-cluster volume Windows wrote; ntfsinfo counts 700 used. */
const windowsBitmap = new Uint8Array(
  readFileSync(new URL("../../fixtures/windows/ntfs/file_4k.Bitmap.bin", import.meta.url)),
);

/** FSCTL_GET_VOLUME_BITMAP's answer, laid out by hand from the documented structure. */
function answer(startingLcn: number, bitmapSize: number, bits: Uint8Array): Uint8Array {
  const out = Buffer.alloc(16 + bits.length);
  out.writeBigInt64LE(BigInt(startingLcn), 0);
  out.writeBigInt64LE(BigInt(bitmapSize), 8);
  out.set(bits, 16);
  return out;
}

describe("the volume bitmap of a volume Windows wrote", () => {
  it("counts the clusters ntfsinfo counts, ignoring the bit Windows set past the last cluster", () => {
    const assembler = new VolumeBitmapAssembler(767, 4096);
    assembler.add(parseVolumeBitmap(answer(0, 767, windowsBitmap), false));
    const map = assembler.result();
    expect(map.count()).toBe(700);
    expect(map.blocks).toBe(767);
    expect(map.has(755)).toBe(true); // /1.txt
    expect(windowsBitmap[95]).toBe(0x80); // cluster 767 does not exist, yet its bit is set
  });

  it("assembles the same map from answers cut short with ERROR_MORE_DATA", () => {
    const whole = new VolumeBitmapAssembler(767, 4096);
    whole.add(parseVolumeBitmap(answer(0, 767, windowsBitmap), false));
    const parts = new VolumeBitmapAssembler(767, 4096);
    for (let lcn = 0; !parts.complete;) {
      const from = lcn - (lcn % 8);
      const room = Math.min(10, windowsBitmap.length - from / 8);
      const more = from + room * 8 < 767;
      parts.add(
        parseVolumeBitmap(answer(from, 767 - from, windowsBitmap.subarray(from / 8, from / 8 + room)), more),
      );
      lcn = parts.nextLcn;
    }
    expect(parts.result().equals(whole.result())).toBe(true);
  });

  it("round-trips through the encoder the simulated host uses, in pieces of any size", () => {
    const map = new BlockMap(4096, 1000).addRange(0, 17).addRange(300, 250).add(999);
    for (const maxBytes of [17, 40, 200]) {
      const assembler = new VolumeBitmapAssembler(1000, 4096);
      while (!assembler.complete) {
        const { bytes, more } = encodeVolumeBitmap(map, assembler.nextLcn, maxBytes);
        assembler.add(parseVolumeBitmap(bytes, more));
      }
      expect(assembler.result().equals(map), `pieces of ${maxBytes} bytes`).toBe(true);
    }
  });
});

describe("truncated and hostile volume bitmaps", () => {
  it("refuses a header cut short", () => {
    expect(() => parseVolumeBitmap(new Uint8Array(15), false)).toThrow(WindowsFormatError);
  });

  it("refuses a complete answer with fewer bytes than BitmapSize needs", () => {
    expect(() => parseVolumeBitmap(answer(0, 767, windowsBitmap.subarray(0, 95)), false)).toThrow(
      /needs 96 bytes/,
    );
  });

  it("refuses negative or unaligned starting LCNs and negative sizes", () => {
    expect(() => parseVolumeBitmap(answer(-8, 10, new Uint8Array(2)), false)).toThrow(/StartingLcn/);
    expect(() => parseVolumeBitmap(answer(3, 10, new Uint8Array(2)), false)).toThrow(/StartingLcn/);
    expect(() => parseVolumeBitmap(answer(0, -1, new Uint8Array(2)), false)).toThrow(/negative/);
  });

  it("refuses a size beyond 2^53 rather than rounding it", () => {
    const bytes = Buffer.from(answer(0, 0, new Uint8Array(8)));
    bytes.writeBigInt64LE(2n ** 62n, 8);
    expect(() => parseVolumeBitmap(bytes, true)).toThrow(/beyond 2\^53/);
  });

  it("refuses parts that leave a gap or disagree on where the volume ends", () => {
    const assembler = new VolumeBitmapAssembler(767, 4096);
    expect(() => assembler.add(parseVolumeBitmap(answer(8, 759, new Uint8Array(95)), false))).toThrow(
      /expected ≤ 0/,
    );
    expect(() => assembler.add(parseVolumeBitmap(answer(0, 800, new Uint8Array(100)), false))).toThrow(/800/);
    expect(() => assembler.result()).toThrow(/stops at LCN 0/);
  });

  it("refuses a partial answer that describes nothing", () => {
    expect(() => parseVolumeBitmap(answer(0, 767, new Uint8Array(0)), true)).toThrow(/no cluster/);
  });
});
