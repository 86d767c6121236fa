/**
 * Cloud disk mode end to end: `backup --target nbd://…` keeps a disk served by nbdkit identical to
 * the newest point, writes only what changed, and after a failed pass (nbdkit's error filter) the
 * replica is reported incomplete until a later backup finishes it.
 */

import { readdir, readFile, rm, truncate } from "node:fs/promises";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { makeImage, mutateImage, sha256File } from "../../helpers/disk-image.ts";
import { nbdPeersUnavailable, type Peer, startNbdkit, tool } from "./peers.ts";

const SIZE = 32 << 20;
const CHUNK = 64 * 1024;
const env = { LIFEBOAT_PASSWORD: "correct horse battery staple" };
const unavailable = nbdPeersUnavailable();

interface BackupJson {
  point: { id: string; seq: number };
  mode: string;
  replica: { consistent: boolean; mode?: string; chunksWritten?: number; resumed?: boolean; seq?: number };
}

describe.skipIf(unavailable !== undefined)("cloud disk mode: backup --target nbd://", () => {
  let dir: string;
  let image: string;
  let replica: string;
  let peer: Peer | undefined;

  const serveReplica = async (filters: string[] = []) => {
    await peer?.stop();
    peer = await startNbdkit(dir, "replica", [
      ...filters,
      "file",
      replica,
      ...(filters.length > 0 ? ["error-pwrite=EIO", "error-pwrite-rate=100%"] : []),
    ]);
    return peer.uri;
  };
  const backup = (target: string) =>
    lifeboat(
      [
        "--json",
        "backup",
        "--source",
        `image:${image}`,
        "--repo",
        join(dir, "repo"),
        "--source-name",
        "vm",
        "--state-dir",
        join(dir, "state"),
        "--target",
        target,
      ],
      env,
    );
  const replicaState = async () => {
    const name = (await readdir(join(dir, "state"))).find((f) => f.startsWith("replica-")) as string;
    return JSON.parse(await readFile(join(dir, "state", name), "utf8")) as { seq: number; pass?: unknown };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-cloud-disk-"));
    image = join(dir, "disk.img");
    replica = join(dir, "replica.img");
    await makeImage(image, SIZE, 21);
    await rm(replica, { force: true });
    await tool("truncate", ["-s", String(SIZE), replica]);
    expect((await lifeboat(["repo", "init", "--repo", join(dir, "repo")], env)).code).toBe(0);
  });

  afterAll(async () => {
    await peer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the replica identical to each new point, writing only the chunks that changed", async () => {
    const uri = await serveReplica();
    const first = await backup(uri);
    expect(first.code, first.stderr).toBe(0);
    const j1 = JSON.parse(first.stdout) as BackupJson;
    expect(j1.replica).toMatchObject({ consistent: true, mode: "full", seq: 1 });
    expect(await sha256File(replica)).toBe(await sha256File(image));

    const changed = await mutateImage(image, SIZE, 12, 5);
    const second = await backup(uri);
    expect(second.code, second.stderr).toBe(0);
    const j2 = JSON.parse(second.stdout) as BackupJson;
    expect(j2.replica).toMatchObject({ consistent: true, mode: "incremental", seq: 2 });
    expect(j2.replica.chunksWritten).toBe(BlockMap.fromExtents(CHUNK, SIZE, changed).count());
    expect(await sha256File(replica)).toBe(await sha256File(image));
    expect(await tool("qemu-img", ["compare", "-f", "raw", "-F", "raw", image, uri])).toMatch(/identical/);
    expect((await replicaState()).pass).toBeUndefined();
  });

  it("commits the point but reports the replica incomplete when its pass fails, and a later backup completes it", async () => {
    await mutateImage(image, SIZE, 12, 6);
    const failing = await backup(await serveReplica(["--filter=error"]));
    expect(failing.code).toBe(1);
    expect(errorCode(failing), failing.stderr).toBe("TARGET_IO");
    const j3 = JSON.parse(failing.stdout) as BackupJson;
    expect(j3.point.seq).toBe(3);
    expect(j3.replica.consistent).toBe(false);
    const dirty = await replicaState();
    expect(dirty).toMatchObject({ seq: 2, pass: { fromSeq: 2, toSeq: 3 } });

    const unreachable = await backup(`nbd+unix:///?socket=${join(dir, "nobody.sock")}`);
    expect(unreachable.code).toBe(1);
    expect(errorCode(unreachable)).toBe("NBD_CONNECT");

    await mutateImage(image, SIZE, 12, 7);
    const healed = await backup(await serveReplica());
    expect(healed.code, healed.stderr).toBe(0);
    const j5 = JSON.parse(healed.stdout) as BackupJson;
    expect(j5.replica).toMatchObject({ consistent: true, mode: "incremental", resumed: true, seq: 5 });
    expect(await sha256File(replica)).toBe(await sha256File(image));
    expect(await replicaState()).toMatchObject({ seq: 5 });
  });

  it("rewrites a replica that was replaced behind its back", async () => {
    await truncate(replica, 0);
    await truncate(replica, SIZE);
    const r = await backup(await serveReplica());
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as BackupJson).replica).toMatchObject({ consistent: true, mode: "full" });
    expect(await sha256File(replica)).toBe(await sha256File(image));
  });
});
