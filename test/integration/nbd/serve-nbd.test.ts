/**
 * Instant recovery: `lifeboat serve-nbd` exports restore points of a local and of an S3 repository
 * (Ceph RGW); nbdcopy and qemu-img compare see exactly the original image, nbdinfo --map shows the
 * zero chunks as holes, and a --writable export takes writes that never reach the repository.
 */

import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { makeImage, sha256File } from "../../helpers/disk-image.ts";
import { type Rgw, rgwUnavailable, startRgw } from "../s3/rgw-setup.ts";
import { nbdPeersUnavailable, startServeNbd, tool } from "./peers.ts";

const SIZE = 64 << 20;
const CHUNK = 64 * 1024;
const env = { LIFEBOAT_PASSWORD: "correct horse battery staple" };
const unavailable = nbdPeersUnavailable();

/** Hash of every file under `dir`, to prove a repository was not touched. */
async function treeHash(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (d: string): Promise<void> => {
    for (const entry of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else hash.update(p).update(await readFile(p));
    }
  };
  await walk(dir);
  return hash.digest("hex");
}

/** Offsets of the image's all-zero 64 KiB chunks, as [start, end) runs. */
async function zeroRuns(path: string): Promise<Array<[number, number]>> {
  const bytes = await readFile(path);
  const runs: Array<[number, number]> = [];
  for (let off = 0; off < bytes.length; off += CHUNK) {
    if (!bytes.subarray(off, off + CHUNK).every((b) => b === 0)) continue;
    const last = runs.at(-1);
    if (last !== undefined && last[1] === off) last[1] = off + CHUNK;
    else runs.push([off, off + CHUNK]);
  }
  return runs;
}

describe.skipIf(unavailable !== undefined)("serve-nbd: instant recovery from a restore point", () => {
  let dir: string;
  let repo: string;
  let image: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-serve-nbd-"));
    repo = join(dir, "repo");
    image = join(dir, "disk.img");
    await makeImage(image, SIZE, 31);
    expect((await lifeboat(["repo", "init", "--repo", repo], env)).code).toBe(0);
    const b = await lifeboat(
      [
        "backup",
        "--source",
        `image:${image}`,
        "--repo",
        repo,
        "--source-name",
        "vm",
        "--state-dir",
        join(dir, "st"),
      ],
      env,
    );
    expect(b.code, b.stderr).toBe(0);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("serves a point from a local repository: nbdcopy and qemu-img compare see the original, nbdinfo --map shows the holes", async () => {
    const server = await startServeNbd(["--repo", repo, "--point", "vm@1"], env);
    try {
      const out = join(dir, "copy.img");
      const started = Date.now();
      await tool("nbdcopy", [server.uri, out]);
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `serve-nbd read throughput (nbdcopy, 64 MiB, encrypted repository, cold cache): ${(SIZE / 1e6 / seconds).toFixed(1)} MB/s`,
      );
      expect(await sha256File(out)).toBe(await sha256File(image));
      expect(await tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.uri])).toMatch(
        /Images are identical/,
      );

      const holes = (await tool("nbdinfo", ["--map", server.uri]))
        .split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[3]?.startsWith("hole"))
        .map((f) => [Number(f[0]), Number(f[0]) + Number(f[1])] as [number, number]);
      expect(holes.length).toBeGreaterThan(0);
      expect(holes).toEqual(await zeroRuns(image));
    } finally {
      const stats = await server.stop();
      // Lazy: chunks are fetched once each (the holes never), however many clients read them.
      expect(stats.chunksFetched).toBeLessThanOrEqual(
        SIZE / CHUNK - (await zeroRuns(image)).reduce((n, [s, e]) => n + (e - s) / CHUNK, 0),
      );
      expect(stats.errors).toBe(0);
    }
  });

  it("takes writes into a local overlay with --writable and leaves the repository untouched", async () => {
    const before = await treeHash(repo);
    const overlayDir = join(dir, "overlay");
    await tool("mkdir", ["-p", overlayDir]);
    const server = await startServeNbd(
      ["--repo", repo, "--point", "vm@1", "--writable", "--overlay-dir", overlayDir],
      env,
    );
    try {
      await tool("qemu-io", [
        "-f",
        "raw",
        "-c",
        "write -P 0x5a 1M 64k",
        "-c",
        "write -P 0x77 100000 3000",
        server.uri,
      ]);
      const check = await tool("qemu-io", [
        "-f",
        "raw",
        "-c",
        "read -P 0x5a 1M 64k",
        "-c",
        "read -P 0x77 100000 3000",
        server.uri,
      ]);
      expect(check).not.toMatch(/Pattern verification failed/);
      const overlay = (await readdir(overlayDir))[0] as string;
      expect((await stat(join(overlayDir, overlay))).blocks * 512).toBeLessThan(1 << 20); // sparse: ~2 chunks
    } finally {
      await server.stop();
    }
    expect(await readdir(overlayDir)).toEqual([]); // the overlay lives only as long as the server
    expect(await treeHash(repo)).toBe(before);
    const again = await startServeNbd(["--repo", repo, "--point", "vm@1"], env);
    try {
      expect(await tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, again.uri])).toMatch(
        /identical/,
      );
    } finally {
      await again.stop();
    }
  });

  it("refuses a point that does not exist and an address already in use, with coded errors", async () => {
    const missing = await lifeboat(
      ["--json", "serve-nbd", "--repo", repo, "--point", "vm@9", "--listen", "127.0.0.1:0"],
      env,
    );
    expect(missing.code).toBe(2);
    expect(errorCode(missing)).toBe("POINT_NOT_FOUND");
    const server = await startServeNbd(["--repo", repo, "--point", "vm@1"], env);
    try {
      const port = new URL(server.uri).port;
      const busy = await lifeboat(
        ["--json", "serve-nbd", "--repo", repo, "--point", "vm@1", "--listen", `127.0.0.1:${port}`],
        env,
      );
      expect(busy.code).toBe(2);
      expect(errorCode(busy)).toBe("NBD_LISTEN");
    } finally {
      await server.stop();
    }
  });

  const s3Unavailable = rgwUnavailable();
  describe.skipIf(s3Unavailable !== undefined)("from an S3 repository (Ceph RGW)", () => {
    let rgw: Rgw;
    beforeAll(async () => {
      rgw = await startRgw();
    });
    afterAll(async () => {
      await rgw?.stop();
    });

    it("serves a point straight from S3: nbdcopy and qemu-img compare see the original", async () => {
      const bucket = await rgw.createBucket("nbd");
      const s3repo = `s3://${bucket}/lifeboat`;
      const s3env = { ...rgw.env(), ...env };
      expect((await lifeboat(["repo", "init", "--repo", s3repo], s3env)).code).toBe(0);
      const b = await lifeboat(
        [
          "backup",
          "--source",
          `image:${image}`,
          "--repo",
          s3repo,
          "--source-name",
          "vm",
          "--state-dir",
          join(dir, "st3"),
        ],
        s3env,
      );
      expect(b.code, b.stderr).toBe(0);
      const server = await startServeNbd(["--repo", s3repo, "--point", "vm@1"], s3env);
      try {
        const out = join(dir, "s3-copy.img");
        const started = Date.now();
        await tool("nbdcopy", [server.uri, out]);
        console.log(
          `serve-nbd read throughput from S3 (nbdcopy, 64 MiB, cold cache): ${(SIZE / 1e6 / ((Date.now() - started) / 1000)).toFixed(1)} MB/s`,
        );
        expect(await sha256File(out)).toBe(await sha256File(image));
        expect(await tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, server.uri])).toMatch(
          /identical/,
        );
      } finally {
        await server.stop();
      }
    });
  });
});
