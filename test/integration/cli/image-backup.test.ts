import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { fillRandom, makeImage, mutateImage, sha256File } from "../../helpers/disk-image.ts";

const SIZE = 256 * 1024 * 1024;
const CHUNK = 64 * 1024;
const env = { LIFEBOAT_PASSWORD: "correct horse battery staple" };

let dir: string;
let repo: string;
let image: string;
let state: string;

interface BackupJson {
  point: { id: string; seq: number };
  mode: string;
  bytesRead: number;
  bytesStored: number;
}

async function backup(...extra: string[]): Promise<BackupJson> {
  const r = await lifeboat(
    ["--json", "backup", "--source", `image:${image}`, "--repo", repo, "--state-dir", state, ...extra],
    env,
  );
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as BackupJson;
}

async function restoreOntoRandom(pointId: string, name: string): Promise<string> {
  const target = join(dir, name);
  await fillRandom(target, SIZE);
  const r = await lifeboat(
    ["--json", "restore", "--repo", repo, "--point", pointId, "--to", target, "--verify"],
    env,
  );
  expect(r.code, r.stderr).toBe(0);
  expect((JSON.parse(r.stdout) as { disks: Array<{ verified: boolean }> }).disks[0]?.verified).toBe(true);
  return sha256File(target);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-image-"));
  repo = join(dir, "repo");
  image = join(dir, "disk.img");
  state = join(dir, "state");
  await makeImage(image, SIZE, 42);
  const init = await lifeboat(["repo", "init", "--repo", repo], env);
  expect(init.code, init.stderr).toBe(0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("image backup and restore through the CLI (256 MiB image)", () => {
  it("restores each point onto a target full of random bytes, byte-identical to the image it came from", async () => {
    const first = await backup();
    expect(first.mode).toBe("full");
    const v1 = await sha256File(image);
    await copyFile(image, join(dir, "v1.img"));

    // A 1% change: 41 scattered rewrites of up to 64 KiB each.
    await mutateImage(image, SIZE, Math.round((SIZE * 0.01) / CHUNK), 7);
    const second = await backup();
    const v2 = await sha256File(image);
    expect(second.point.seq).toBe(2);
    // Without a tracker the image is read again but only changed chunks are stored.
    expect(second.bytesRead).toBe(SIZE);
    expect(second.bytesStored).toBeLessThan(first.bytesStored / 20);

    expect(await restoreOntoRandom(first.point.id, "r1.img")).toBe(v1);
    expect(await restoreOntoRandom(second.point.id, "r2.img")).toBe(v2);
  });

  it("reads only the listed extents with --changed-extents, and refuses a base that is not the last point", async () => {
    const points = JSON.parse((await lifeboat(["--json", "points", "--repo", repo], env)).stdout) as {
      points: Array<{ id: string; seq: number }>;
    };
    const last = points.points.at(-1) as { id: string; seq: number };
    const extents = await mutateImage(image, SIZE, 20, 99);
    const file = join(dir, "changed.txt");
    await writeFile(
      file,
      `# from a test tracker\n${extents.map((e) => `${e.offset} ${e.length}`).join("\n")}\n`,
    );

    const stale = points.points[0] as { id: string };
    const refused = await lifeboat(
      [
        "--json",
        "backup",
        "--source",
        `image:${image}`,
        "--repo",
        repo,
        "--state-dir",
        state,
        "--changed-extents",
        file,
        "--base",
        stale.id,
      ],
      env,
    );
    expect(refused.code).toBe(2);
    expect(errorCode(refused)).toBe("BASE_NOT_LATEST");

    const third = await backup("--changed-extents", file, "--base", last.id);
    expect(third.mode).toBe("incremental");
    const touched = BlockMap.fromExtents(CHUNK, SIZE, extents).count();
    expect(third.bytesRead).toBe(touched * CHUNK);
    expect(await restoreOntoRandom(third.point.id, "r3.img")).toBe(await sha256File(image));
    // The refused run wrote no point.
    const after = await readdir(join(repo, "points", third.point.id.split("@")[0] as string));
    expect(after).toHaveLength(3);
  });

  it("prunes to the newest point, and what remains verifies and restores", async () => {
    const dry = await lifeboat(["--json", "prune", "--repo", repo, "--keep-last", "1", "--dry-run"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as { pointsDeleted: string[] }).pointsDeleted).toHaveLength(2);
    const pruned = await lifeboat(["--json", "prune", "--repo", repo, "--keep-last", "1"], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    const listed = JSON.parse((await lifeboat(["--json", "points", "--repo", repo], env)).stdout) as {
      points: Array<{ id: string; seq: number }>;
    };
    expect(listed.points.map((p) => p.seq)).toEqual([3]);
    const verify = await lifeboat(["--json", "verify", "--repo", repo, "--full"], env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(await restoreOntoRandom(listed.points[0]?.id as string, "r4.img")).toBe(await sha256File(image));
    const noRule = await lifeboat(["--json", "prune", "--repo", repo], env);
    expect(noRule.code).toBe(2);
    expect(errorCode(noRule)).toBe("USAGE");
  });
});
