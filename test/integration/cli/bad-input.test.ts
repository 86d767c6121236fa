import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { makeImage } from "../../helpers/disk-image.ts";

const SIZE = 8 * 1024 * 1024;
const env = { LIFEBOAT_PASSWORD: "the right passphrase" };
let dir: string;
let repo: string;
let pointId: string;

async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

async function firstFile(root: string, prefix: string): Promise<string> {
  const file = (await listing(root)).find((f) => f.startsWith(prefix));
  if (file === undefined) throw new Error(`no ${prefix} object`);
  return join(root, file);
}

/** Runs a command that must be refused, and checks it left the repository untouched. */
async function refused(args: string[], extraEnv: Record<string, string> = env) {
  const before = await listing(repo);
  const result = await lifeboat(["--json", ...args], extraEnv);
  expect(await listing(repo)).toEqual(before);
  return result;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-bad-"));
  repo = join(dir, "repo");
  await makeImage(join(dir, "disk.img"), SIZE, 3);
  expect((await lifeboat(["repo", "init", "--repo", repo], env)).code).toBe(0);
  const b = await lifeboat(
    [
      "--json",
      "backup",
      "--source",
      `image:${join(dir, "disk.img")}`,
      "--repo",
      repo,
      "--state-dir",
      join(dir, "state"),
    ],
    env,
  );
  expect(b.code, b.stderr).toBe(0);
  pointId = (JSON.parse(b.stdout) as { point: { id: string } }).point.id;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bad input is refused with a coded error and nothing written", () => {
  it("refuses an image path that does not exist (exit 2)", async () => {
    const r = await refused(["backup", "--source", `image:${join(dir, "missing.img")}`, "--repo", repo]);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("SOURCE_NOT_FOUND");
  });

  it("refuses a wrong passphrase (exit 2) for every command", async () => {
    const wrong = { LIFEBOAT_PASSWORD: "not the passphrase" };
    for (const args of [
      ["points", "--repo", repo],
      ["backup", "--source", `image:${join(dir, "disk.img")}`, "--repo", repo],
    ]) {
      const r = await refused(args, wrong);
      expect(r.code).toBe(2);
      expect(errorCode(r)).toBe("PASSWORD_WRONG");
      expect(r.stderr).not.toContain("not the passphrase");
    }
  });

  it("refuses a point id that does not exist, without creating the target (exit 2)", async () => {
    const target = join(dir, "never.img");
    const r = await refused([
      "restore",
      "--repo",
      repo,
      "--point",
      `${pointId.split("@")[0]}@99`,
      "--to",
      target,
    ]);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("POINT_NOT_FOUND");
    await expect(stat(target)).rejects.toThrow();
  });

  it("refuses a repository of an unknown format version (exit 2)", async () => {
    const config = join(repo, "lifeboat.json");
    const original = await readFile(config, "utf8");
    try {
      await writeFile(config, original.replace(/"version":\s*1/, '"version": 2'));
      const r = await refused(["points", "--repo", repo]);
      expect(r.code).toBe(2);
      expect(errorCode(r)).toBe("REPO_FORMAT_UNSUPPORTED");
    } finally {
      await writeFile(config, original);
    }
  });

  it("names a tampered chunk: verify --full and restore fail with OBJECT_CORRUPT (exit 1)", async () => {
    const pack = await firstFile(repo, "packs/");
    const original = await readFile(pack);
    try {
      const tampered = Buffer.from(original);
      tampered[100] = (tampered[100] as number) ^ 0x01;
      await writeFile(pack, tampered);
      const v = await lifeboat(["--json", "verify", "--repo", repo, "--full"], env);
      expect(v.code).toBe(1);
      const report = JSON.parse(v.stdout) as {
        ok: boolean;
        problems: Array<{ object: string; code: string }>;
      };
      expect(report.ok).toBe(false);
      expect(
        report.problems.some((p) => p.code === "OBJECT_CORRUPT" && p.object.startsWith(relative(repo, pack))),
      ).toBe(true);
      const target = join(dir, "r.img");
      const r = await lifeboat(
        ["--json", "restore", "--repo", repo, "--point", pointId, "--to", target],
        env,
      );
      expect(r.code).toBe(1);
      expect(errorCode(r)).toBe("OBJECT_CORRUPT");
      await expect(stat(target)).rejects.toThrow(); // no half-restored image left behind
    } finally {
      await writeFile(pack, original);
    }
  });

  it("names a truncated pack and a tampered manifest", async () => {
    const pack = await firstFile(repo, "packs/");
    const manifest = await firstFile(repo, "disks/");
    const originalPack = await readFile(pack);
    const originalManifest = await readFile(manifest);
    try {
      await writeFile(pack, originalPack.subarray(0, originalPack.length - 10));
      const manifestBytes = Buffer.from(originalManifest);
      manifestBytes[manifestBytes.length - 20] = (manifestBytes[manifestBytes.length - 20] as number) ^ 0x80;
      await writeFile(manifest, manifestBytes);
      const v = await lifeboat(["--json", "verify", "--repo", repo], env);
      expect(v.code).toBe(1);
      const objects = (JSON.parse(v.stdout) as { problems: Array<{ object: string; code: string }> })
        .problems;
      expect(objects.map((p) => p.code)).toContain("OBJECT_CORRUPT");
      expect(objects.some((p) => p.object === relative(repo, manifest))).toBe(true);
    } finally {
      await writeFile(pack, originalPack);
      await writeFile(manifest, originalManifest);
    }
    const clean = await lifeboat(["--json", "verify", "--repo", repo, "--full"], env);
    expect(clean.code, clean.stdout).toBe(0);
  });
});

describe("repository keys", () => {
  it("changes the passphrase by re-wrapping the key, and exports the key for escrow", async () => {
    const next = "a brand new passphrase";
    const changed = await lifeboat(["repo", "passwd", "--repo", repo], {
      ...env,
      LIFEBOAT_NEW_PASSWORD: next,
    });
    expect(changed.code, changed.stderr).toBe(0);
    expect(errorCode(await lifeboat(["--json", "points", "--repo", repo], env))).toBe("PASSWORD_WRONG");
    expect((await lifeboat(["--json", "verify", "--repo", repo], { LIFEBOAT_PASSWORD: next })).code).toBe(0);
    const out = join(dir, "escrow.json");
    const exported = await lifeboat(["repo", "export-key", "--repo", repo, "--out", out], {
      LIFEBOAT_PASSWORD: next,
    });
    expect(exported.code, exported.stderr).toBe(0);
    expect(((await stat(out)).mode & 0o777).toString(8)).toBe("600");
    expect(JSON.parse(await readFile(out, "utf8"))).toMatchObject({ format: "lifeboat-master-key-v1" });
    const again = await lifeboat(["--json", "repo", "export-key", "--repo", repo, "--out", out], {
      LIFEBOAT_PASSWORD: next,
    });
    expect(again.code).toBe(2);
    const back = await lifeboat(["repo", "passwd", "--repo", repo], {
      LIFEBOAT_PASSWORD: next,
      LIFEBOAT_NEW_PASSWORD: env.LIFEBOAT_PASSWORD,
    });
    expect(back.code, back.stderr).toBe(0);
  });
});
