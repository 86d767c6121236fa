import { describe, expect, it } from "vitest";
import { WindowsFormatError } from "../../../src/formats/windows/byte-reader.ts";
import {
  encodeRetrievalPointers,
  parseRetrievalPointers,
} from "../../../src/formats/windows/retrieval-pointers.ts";

/** Laid out by hand from the documented RETRIEVAL_POINTERS_BUFFER. */
function answer(
  startingVcn: number,
  extents: Array<[nextVcn: number, lcn: number]>,
  count = extents.length,
): Buffer {
  const out = Buffer.alloc(16 + extents.length * 16);
  out.writeUInt32LE(count, 0);
  out.writeBigInt64LE(BigInt(startingVcn), 8);
  extents.forEach(([next, lcn], i) => {
    out.writeBigInt64LE(BigInt(next), 16 + i * 16);
    out.writeBigInt64LE(BigInt(lcn), 24 + i * 16);
  });
  return out;
}

describe("retrieval pointers", () => {
  it("reads the five runs of the stream file13.dll:here, including a run before its predecessor", () => {
    // ntfsinfo on DFTT #8: (VCN 0, LCN 6688 × 10), (10, 10107 × 20), (30, 10005 × 43), (73, 2454 × 133), (206, 12831 × 37)
    const parsed = parseRetrievalPointers(
      answer(0, [
        [10, 6688],
        [30, 10107],
        [73, 10005],
        [206, 2454],
        [243, 12831],
      ]),
      20096,
    );
    expect(parsed.runs).toEqual([
      { vcn: 0, lcn: 6688, clusters: 10 },
      { vcn: 10, lcn: 10107, clusters: 20 },
      { vcn: 30, lcn: 10005, clusters: 43 },
      { vcn: 73, lcn: 2454, clusters: 133 },
      { vcn: 206, lcn: 12831, clusters: 37 },
    ]);
    expect(parsed.nextVcn).toBe(243);
  });

  it("reads holes (LCN −1) of a compressed file as runs without clusters", () => {
    // ntfs-ramslack /1.txt: (VCN 0, LCN 36 × 1), (VCN 1, hole × 15).
    expect(
      parseRetrievalPointers(
        answer(0, [
          [1, 36],
          [16, -1],
        ]),
      ).runs,
    ).toEqual([
      { vcn: 0, lcn: 36, clusters: 1 },
      { vcn: 1, lcn: null, clusters: 15 },
    ]);
  });

  it("continues from a starting VCN after ERROR_MORE_DATA", () => {
    const parsed = parseRetrievalPointers(answer(44544, [[44545, 6815248]]));
    expect(parsed.runs).toEqual([{ vcn: 44544, lcn: 6815248, clusters: 1 }]);
  });

  it("round-trips through the encoder the simulated host uses", () => {
    const runs = [
      { vcn: 5, lcn: 100, clusters: 3 },
      { vcn: 8, lcn: null, clusters: 2 },
      { vcn: 10, lcn: 7, clusters: 1 },
    ];
    expect(parseRetrievalPointers(encodeRetrievalPointers(5, runs)).runs).toEqual(runs);
  });

  it("refuses an extent count larger than the buffer", () => {
    expect(() => parseRetrievalPointers(answer(0, [[1, 5]], 2))).toThrow(/ExtentCount 2/);
    expect(() => parseRetrievalPointers(answer(0, [[1, 5]], 0xffffffff))).toThrow(WindowsFormatError);
    expect(() => parseRetrievalPointers(answer(0, [[1, 5]]).subarray(0, 20))).toThrow(WindowsFormatError);
  });

  it("refuses VCNs that do not move forward, LCNs below −1 and runs past the volume", () => {
    expect(() =>
      parseRetrievalPointers(
        answer(0, [
          [4, 10],
          [4, 20],
        ]),
      ),
    ).toThrow(/does not move past/);
    expect(() => parseRetrievalPointers(answer(10, [[5, 1]]))).toThrow(/does not move past/);
    expect(() => parseRetrievalPointers(answer(0, [[4, -2]]))).toThrow(/negative/);
    expect(() => parseRetrievalPointers(answer(-1, [[4, 1]]))).toThrow(/StartingVcn/);
    expect(() => parseRetrievalPointers(answer(0, [[4, 765]]), 767)).toThrow(/past the volume/);
  });
});
