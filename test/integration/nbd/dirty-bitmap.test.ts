/**
 * KVM changed-block tracking: a qcow2 with persistent dirty bitmaps (`qemu-img bitmap --add`),
 * served by `qemu-nbd -B`, written with `qemu-io`. The first backup is full, the next reads only the
 * dirty extents, restores are bit-exact, and a bitmap that is not the last point's token (or is
 * missing) makes a resync. Source read errors and stalls (nbdkit's error and delay filters) fail
 * the job with coded errors and leave the repository as it was.
 */

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { makeImage, sha256File } from "../../helpers/disk-image.ts";
import { nbdPeersUnavailable, type Peer, startNbdkit, startQemuNbd, tool } from "./peers.ts";

const SIZE = 64 << 20;
const CHUNK = 64 * 1024;
const env = { LIFEBOAT_PASSWORD: "correct horse battery staple" };
const unavailable = nbdPeersUnavailable();

interface BackupJson {
  point: { id: string; seq: number };
  mode: string;
  bytesRead: number;
  warnings: string[];
  disks: Array<{ token: string | null; resetReason?: string }>;
}

describe.skipIf(unavailable !== undefined)("QEMU dirty bitmaps as the change tracker (qemu-nbd -B)", () => {
  let dir: string;
  let repo: string;
  let qcow2: string;
  let peer: Peer | undefined;

  /** Serves the image with the given bitmaps exported; the image is quiesced while nothing serves it. */
  const serve = async (...bitmaps: string[]) => {
    await peer?.stop();
    peer = await startQemuNbd(dir, qcow2, ["-f", "qcow2", ...bitmaps.flatMap((b) => ["-B", b])]);
    return peer.uri;
  };
  const quiesce = async () => {
    await peer?.stop();
    peer = undefined;
  };
  /** One backup with `params` (bitmap=…&next=…) while qemu-nbd exports `exported` bitmaps. */
  const backup = async (
    params: string,
    exported = params.match(/(?<=bitmap=|next=)[^&]+/g) ?? [],
  ): Promise<BackupJson> => {
    const uri = `${await serve(...exported)}&${params}`;
    try {
      const r = await lifeboat(
        [
          "--json",
          "backup",
          "--source",
          uri,
          "--repo",
          repo,
          "--source-name",
          "kvm",
          "--state-dir",
          join(dir, "st"),
        ],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as BackupJson;
    } finally {
      await quiesce();
    }
  };
  const qemuIo = (...commands: string[]) =>
    tool("qemu-io", ["-f", "qcow2", ...commands.flatMap((c) => ["-c", c]), qcow2]);
  const addBitmap = (name: string) => tool("qemu-img", ["bitmap", "--add", qcow2, name]);
  /** Restores a point and compares it with the qcow2 as it is now. */
  const restoresExactly = async (point: string) => {
    const out = join(dir, `${point.replace("@", "-")}.raw`);
    const r = await lifeboat(["restore", "--repo", repo, "--point", point, "--to", out, "--verify"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await tool("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", out, qcow2])).toMatch(/identical/);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-bitmap-"));
    repo = join(dir, "repo");
    qcow2 = join(dir, "vm.qcow2");
    expect((await lifeboat(["repo", "init", "--repo", repo], env)).code).toBe(0);
    await tool("qemu-img", ["create", "-f", "qcow2", qcow2, String(SIZE)]);
  });

  afterAll(async () => {
    await peer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("backs up in full first, then reads only the dirty extents, and restores every point bit-exact", async () => {
    await qemuIo("write -P 0x11 0 4M", "write -P 0x22 20M 2M", "write -P 0x33 60M 1M");
    await addBitmap("b0");
    const first = await backup("bitmap=b0");
    expect(first.mode).toBe("full");
    expect(first.bytesRead).toBe(7 << 20); // only what base:allocation reports as data
    expect(first.disks[0]?.token).toBe("b0");
    await restoresExactly(first.point.id);

    // Writes tracked by b0: 128 KiB at 5 MiB (2 chunks), 64 KiB at 20.5 MiB (inside data), 4 KiB at 40 MiB (1 chunk).
    await qemuIo("write -P 0x44 5M 128k", "write -P 0x55 20992k 64k", "write -P 0x66 40M 64k");
    await addBitmap("b1");
    const dirty = await tool("nbdinfo", [`--map=qemu:dirty-bitmap:b0`, await serve("b0")]);
    await quiesce();
    expect(dirty.split("\n").filter((l) => / dirty$/.test(l.trim()))).toHaveLength(3);
    const second = await backup("bitmap=b0&next=b1");
    expect(second.mode).toBe("incremental");
    expect(second.bytesRead).toBe(4 * CHUNK);
    expect(second.disks[0]?.token).toBe("b1");
    await restoresExactly(second.point.id);
  });

  it("resyncs by content hash when the bitmap is not the last point's token, or is gone", async () => {
    await qemuIo("write -P 0x77 30M 64k");
    await addBitmap("b2");
    // The last point recorded b1; reading b0 again would miss nothing here, but it is not the protocol.
    const wrongBitmap = await backup("bitmap=b0&next=b2");
    expect(wrongBitmap.mode).toBe("resync");
    expect(wrongBitmap.disks[0]?.resetReason).toMatch(/recorded bitmap b1, but this backup reads bitmap b0/);
    expect(wrongBitmap.warnings.join("\n")).toMatch(/resynchronising by content hash/);
    await restoresExactly(wrongBitmap.point.id);

    await qemuIo("write -P 0x78 31M 64k");
    await addBitmap("b3");
    // b2 still exists in the image, but this qemu-nbd does not export it (as after a restart without -B b2).
    const missing = await backup("bitmap=b2&next=b3", ["b3"]);
    expect(missing.mode).toBe("resync");
    expect(missing.disks[0]?.resetReason).toMatch(/bitmap b2 is not exported/);
    await restoresExactly(missing.point.id);
  });

  it("fails with SOURCE_READ on an unreadable region, retries rare errors (error filter), and times out a stalled export, writing no point", async () => {
    const raw = join(dir, "src.raw");
    await makeImage(raw, 16 << 20, 41);
    const points = async () => (await readdir(join(repo, "points", "faulty")).catch(() => [])).length;
    const pointsBefore = await points();
    const run = (uri: string) =>
      lifeboat(
        [
          "--json",
          "backup",
          "--source",
          uri,
          "--repo",
          repo,
          "--source-name",
          "faulty",
          "--state-dir",
          join(dir, "st2"),
        ],
        env,
      );
    const peers: Peer[] = [];
    try {
      // One unreadable 64 KiB region (a bad sector), scripted with nbdkit's eval plugin.
      const badSector = 3 * CHUNK;
      const broken = await startNbdkit(dir, "broken", [
        "eval",
        `get_size=echo ${16 << 20}`,
        "can_write=exit 3",
        `pread=if [ "$4" -eq ${badSector} ]; then echo "EIO bad sector" >&2; exit 1; fi; dd if=${raw} iflag=skip_bytes,count_bytes skip=$4 count=$3 status=none`,
      ]);
      peers.push(broken);
      const failed = await run(broken.uri);
      expect(failed.code).toBe(1);
      expect(errorCode(failed), failed.stderr).toBe("SOURCE_READ");
      expect(failed.stderr).toMatch(new RegExp(`READ ${badSector}\\+65536 failed: EIO`));
      expect(await points()).toBe(pointsBefore);

      const stalled = await startNbdkit(dir, "stalled", ["--filter=delay", "file", raw, "delay-read=5"]);
      peers.push(stalled);
      const timedOut = await run(`${stalled.uri}&timeout=0.5`);
      expect(timedOut.code).toBe(1);
      expect(errorCode(timedOut)).toBe("NBD_TIMEOUT");
      expect(await points()).toBe(pointsBefore);

      const flaky = await startNbdkit(dir, "flaky", [
        "--filter=error",
        "file",
        raw,
        "error-pread=EIO",
        "error-pread-rate=3%",
      ]);
      peers.push(flaky);
      const ok = await run(flaky.uri);
      expect(ok.code, ok.stderr).toBe(0);
      const point = (JSON.parse(ok.stdout) as BackupJson).point.id;
      const out = join(dir, "faulty.raw");
      expect((await lifeboat(["restore", "--repo", repo, "--point", point, "--to", out], env)).code).toBe(0);
      expect(await sha256File(out)).toBe(await sha256File(raw));
    } finally {
      for (const p of peers) await p.stop();
    }
  });
});
