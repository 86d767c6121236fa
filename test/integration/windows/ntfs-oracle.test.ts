/**
 * The bitmap and runlist parsers against ntfs-3g as the oracle: on a volume mkntfs makes here and on
 * volumes Windows wrote (fixtures), the clusters our parsed VOLUME_BITMAP_BUFFER marks used are the
 * ones ntfsinfo counts, and the clusters a parsed RETRIEVAL_POINTERS_BUFFER names hold exactly the
 * bytes ntfscat reads from the file. The answers are laid out by hand from the documented
 * structures, from what ntfs-3g reports — never by our own encoders.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRetrievalPointers } from "../../../src/formats/windows/retrieval-pointers.ts";
import { parseVolumeBitmap, VolumeBitmapAssembler } from "../../../src/formats/windows/volume-bitmap.ts";
import { skipReason } from "./toolchain.ts";

const tools = ["mkntfs", "ntfsinfo", "ntfscat", "ntfscp"];
const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const skip = missing.length === 0 ? undefined : skipReason(missing);

function tool(command: string, args: readonly string[]): Buffer {
  const r = spawnSync(command, args, { maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout;
}

interface Volume {
  readonly clusterSize: number;
  readonly clusters: number;
  readonly free: number;
}

function volumeFacts(image: string): Volume {
  const text = tool("ntfsinfo", ["-m", image]).toString();
  const number = (label: string) => Number(new RegExp(`${label}:\\s*(\\d+)`).exec(text)?.[1]);
  return {
    clusterSize: number("Cluster Size"),
    clusters: number("Volume Size in Clusters"),
    free: number("Free Clusters"),
  };
}

/** ntfsinfo's runlist of the named $DATA stream ("" for the unnamed one), as [vcn, lcn, length]. */
function runlist(image: string, path: string, stream = ""): Array<[number, number | null, number]> {
  const text = tool("ntfsinfo", ["-v", "-F", path, image]).toString();
  for (const section of text.split(/^Dumping attribute /m)) {
    if (!section.startsWith("$DATA")) continue;
    const name = /Attribute name:\s*'([^']*)'/.exec(section)?.[1] ?? "";
    if (name !== stream) continue;
    return [...section.matchAll(/^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+|<HOLE>|-1)\s+(0x[0-9a-f]+)$/gim)].map(
      (m) => [Number(m[1]), m[2]?.startsWith("0x") ? Number(m[2]) : null, Number(m[3])],
    );
  }
  throw new Error(`no $DATA ${stream} runlist for ${path}`);
}

/** VOLUME_BITMAP_BUFFER as Windows returns it: the $Bitmap bytes after StartingLcn and BitmapSize. */
function bitmapAnswer(bits: Buffer, clusters: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeBigInt64LE(0n, 0);
  head.writeBigInt64LE(BigInt(clusters), 8);
  return Buffer.concat([head, bits]);
}

function pointersAnswer(runs: Array<[number, number | null, number]>): Buffer {
  const out = Buffer.alloc(16 + runs.length * 16);
  out.writeUInt32LE(runs.length, 0);
  out.writeBigInt64LE(BigInt(runs[0]?.[0] ?? 0), 8);
  runs.forEach(([vcn, lcn, length], i) => {
    out.writeBigInt64LE(BigInt(vcn + length), 16 + i * 16);
    out.writeBigInt64LE(BigInt(lcn ?? -1), 24 + i * 16);
  });
  return out;
}

async function readRuns(
  image: string,
  clusterSize: number,
  runs: ReturnType<typeof parseRetrievalPointers>["runs"],
  size: number,
): Promise<Buffer> {
  const handle = await open(image, "r");
  try {
    const parts: Buffer[] = [];
    for (const run of runs) {
      const part = Buffer.alloc(run.clusters * clusterSize);
      if (run.lcn !== null) await handle.read(part, 0, part.length, run.lcn * clusterSize);
      parts.push(part);
    }
    return Buffer.concat(parts).subarray(0, size);
  } finally {
    await handle.close();
  }
}

async function checkVolume(
  image: string,
  files: ReadonlyArray<{ path: string; stream?: string }>,
): Promise<void> {
  const facts = volumeFacts(image);
  const assembler = new VolumeBitmapAssembler(facts.clusters, facts.clusterSize);
  assembler.add(parseVolumeBitmap(bitmapAnswer(tool("ntfscat", [image, "$Bitmap"]), facts.clusters), false));
  const allocated = assembler.result();
  expect(allocated.count()).toBe(facts.clusters - facts.free);
  for (const file of files) {
    const stream = file.stream ?? "";
    const parsed = parseRetrievalPointers(pointersAnswer(runlist(image, file.path, stream)), facts.clusters);
    for (const run of parsed.runs) {
      for (let c = 0; run.lcn !== null && c < run.clusters; c++)
        expect(allocated.has(run.lcn + c)).toBe(true);
    }
    const expected = tool(
      "ntfscat",
      stream === "" ? [image, file.path] : ["-a", "0x80", "-n", stream, image, file.path],
    );
    const actual = await readRuns(image, facts.clusterSize, parsed.runs, expected.length);
    expect(createHash("sha256").update(actual).digest("hex"), `${file.path}:${stream}`).toBe(
      createHash("sha256").update(expected).digest("hex"),
    );
  }
}

describe.skipIf(skip !== undefined)("bitmaps and runlists against ntfs-3g", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-ntfs-oracle-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("on a volume mkntfs made, with files copied in by ntfscp", async () => {
    const image = join(dir, "mkntfs.img");
    const handle = await open(image, "w");
    await handle.truncate(64 << 20);
    await handle.close();
    tool("mkntfs", ["-F", "-Q", "-q", "-c", "4096", image]);
    const files = [];
    for (const [i, size] of [12_345, 1 << 20, 3_000_001, 65_536].entries()) {
      const local = join(dir, `file${i}`);
      await writeFile(
        local,
        createHash("sha256")
          .update(String(i))
          .digest()
          .toString("hex")
          .repeat(Math.ceil(size / 64))
          .slice(0, size),
      );
      tool("ntfscp", ["-f", image, local, `file${i}.bin`]);
      files.push({ path: `/file${i}.bin` });
    }
    await checkVolume(image, files);
  });

  it("on a volume Windows wrote, where Windows set a bitmap bit past the last cluster", async () => {
    const image = join(dir, "file_4k.img");
    await writeFile(
      image,
      gunzipSync(
        await readFile(new URL("../../fixtures/windows/ntfs/dfir_ntfs__file_4k.bin.gz", import.meta.url)),
      ),
    );
    await checkVolume(image, [{ path: "/1.txt" }]);
  });

  it("on a Windows XP volume with a five-run alternate stream whose third run lies before the second", async () => {
    const image = join(dir, "dftt8.img");
    await writeFile(
      image,
      gunzipSync(
        await readFile(new URL("../../fixtures/windows/ntfs/dftt8-jpeg-search.dd.gz", import.meta.url)),
      ),
    );
    expect(runlist(image, "/misc/file13.dll", "here").length).toBe(5);
    await checkVolume(image, [
      { path: "/misc/file13.dll", stream: "here" },
      { path: "/misc/file13.dll" },
      { path: "/alloc/file1.jpg" },
    ]);
    const stream = tool("ntfscat", ["-a", "0x80", "-n", "here", image, "/misc/file13.dll"]);
    expect(createHash("sha256").update(stream).digest("hex")).toBe(
      "e3821af9523ae0265ccaec96f7d74cc6158ee69d1f0fb34d1eb3054388356119",
    );
  });
});
