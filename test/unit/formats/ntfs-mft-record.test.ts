import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { Fields } from "../../../src/formats/bytes.ts";
import {
  ATTR,
  ATTR_FLAG,
  findAttributes,
  type MftRecord,
  parseMftRecord,
} from "../../../src/formats/ntfs/mft-record.ts";
import { gunzipFixture } from "../../helpers/ntfs-images.ts";

const HUGE = 2 ** 40;

/** Every in-use record of a raw $MFT extract, by path (resolved through $FILE_NAME parents). */
async function recordsByPath(name: string, recordSize = 1024): Promise<Map<string, MftRecord>> {
  const mft = await gunzipFixture(`mft/${name}.mft.gz`);
  const records = new Map<number, MftRecord>();
  for (let n = 0; n * recordSize < mft.length; n++) {
    const raw = mft.subarray(n * recordSize, (n + 1) * recordSize);
    if (String.fromCharCode(...raw.subarray(0, 4)) !== "FILE") continue;
    const record = parseMftRecord(raw, n, HUGE);
    if (record.inUse) records.set(n, record);
  }
  const names = new Map<number, { parent: number; name: string }>();
  for (const [n, r] of records) {
    for (const a of findAttributes(r, ATTR.fileName)) {
      if (!a.resident) continue;
      const f = new Fields(a.value, "NTFS_INVALID", "$FILE_NAME");
      if (f.u8(0x41) === 2) continue; // DOS 8.3 alias
      names.set(n, { parent: f.u32(0), name: f.utf16(0x42, f.u8(0x40)) });
    }
  }
  const path = (n: number, depth = 0): string => {
    const e = names.get(n);
    if (e === undefined || n === 5 || depth > 32) return "";
    return `${path(e.parent, depth + 1)}/${e.name}`;
  };
  return new Map([...records].map(([n, r]) => [path(n), r]));
}

function runsOf(r: MftRecord | undefined, name = ""): Array<[number | null, number]> {
  const a = findAttributes(r as MftRecord, ATTR.data, name)[0];
  if (a === undefined || a.resident) throw new Error(`no non-resident $DATA:${name}`);
  return a.runs.map((run) => [run.lcn, run.length]);
}

describe("MFT records of Windows volumes", () => {
  it("decodes runlists with sparse runs and a negative LCN delta as The Sleuth Kit does (mapping_pairs_1)", async () => {
    const byPath = await recordsByPath("mapping_pairs_1");
    const dir = "/test_dir";
    expect(runsOf(byPath.get(`${dir}/entirely_sparse`))).toEqual([[null, 32]]);
    expect(runsOf(byPath.get(`${dir}/partially_sparse`))).toEqual([
      [null, 10],
      [1216, 1],
      [null, 9],
      [1226, 1],
      [null, 9],
      [1236, 1],
    ]);
    expect(runsOf(byPath.get(`${dir}/simple`))).toEqual([[154, 1]]);
    expect(runsOf(byPath.get(`${dir}/partially_sparse_2`))).toEqual([[137, 16]]);
    expect(runsOf(byPath.get(`${dir}/partially_sparse_3`))).toEqual([
      [1278, 1],
      [null, 3],
      [1282, 1],
    ]);
    expect(runsOf(byPath.get(`${dir}/fragmented.txt`))).toEqual([
      [1222, 4],
      [1227, 9],
      [1897, 150],
      [1237, 41],
    ]);
  });

  it("reads named streams' runlists ($Repair:$Corrupt and :$Verify, mapping_pairs_2)", async () => {
    const byPath = await recordsByPath("mapping_pairs_2");
    const repair = byPath.get("/$Extend/$RmMetadata/$Repair");
    expect(runsOf(repair, "$Corrupt")).toEqual([[38, 512]]);
    expect(runsOf(repair, "$Verify")).toEqual([[550, 75]]);
    expect(runsOf(byPath.get("/test_dir/test_file.txt"))).toEqual([[2004, 16]]);
  });

  it("sees the compressed and sparse flags and sizes (compressed_sparse)", async () => {
    const records = [...(await recordsByPath("compressed_sparse")).entries()];
    const compressed = records.find(([p]) => p.endsWith("/compressed.txt"))?.[1];
    const sparse = records.find(([p]) => p.endsWith("/sparse"))?.[1];
    const data = (r: MftRecord | undefined) => findAttributes(r as MftRecord, ATTR.data)[0];
    expect(compressed?.number).toBe(39);
    expect(data(compressed)).toMatchObject({ resident: false, dataSize: 22_308 });
    expect((data(compressed)?.flags ?? 0) & ATTR_FLAG.compressed).toBe(ATTR_FLAG.compressed);
    expect(sparse?.number).toBe(43);
    expect(data(sparse)).toMatchObject({ resident: false, dataSize: 1_048_582 });
    expect((data(sparse)?.flags ?? 0) & ATTR_FLAG.sparse).toBe(ATTR_FLAG.sparse);
  });

  it("applies the 512-byte-stride fix-ups of 4 KiB records (4k-large)", async () => {
    const byPath = await recordsByPath("4k-large", 4096);
    const md5 = (path: string) => {
      const a = findAttributes(byPath.get(path) as MftRecord, ATTR.data)[0];
      if (a?.resident !== true) throw new Error(`${path}: no resident data`);
      return createHash("md5").update(a.value).digest("hex");
    };
    expect(md5("/1.txt")).toBe("a75a25c964f50df4ea9398d8ccf6afbd");
    expect(md5("/2.txt")).toBe("d6fbed685c98416fb7388dad7503811c");
  });

  it("detects a torn write (a sector whose update sequence number does not match)", async () => {
    const mft = await gunzipFixture("mft/mapping_pairs_1.mft.gz");
    const record = mft.slice(0, 1024);
    expect(parseMftRecord(record, 0, HUGE).inUse).toBe(true);
    record[1022] = (record[1022] as number) ^ 0xff;
    let error: unknown;
    try {
      parseMftRecord(record, 0, HUGE);
    } catch (e) {
      error = e;
    }
    expect(isLifeboatError(error, "NTFS_INVALID")).toBe(true);
    expect((error as Error).message).toMatch(/multi-sector/);
  });

  it("refuses a runlist that points past the volume", async () => {
    const byPath = await recordsByPath("mapping_pairs_1");
    const fragmented = byPath.get("/test_dir/fragmented.txt") as MftRecord;
    const mft = await gunzipFixture("mft/mapping_pairs_1.mft.gz");
    const raw = mft.slice(fragmented.number * 1024, (fragmented.number + 1) * 1024);
    expect(() => parseMftRecord(raw, fragmented.number, 1900)).toThrow(/outside the volume/);
  });
});
