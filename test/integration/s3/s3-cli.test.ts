/**
 * The `lifeboat` CLI on an `s3://` repository served by a real S3 server (Ceph RGW 16 on loopback):
 * backup, restore, verify and sim end to end; two writers at once; a backup killed mid-upload; and
 * the coded errors an operator gets for bad credentials, a missing bucket or an unreachable server.
 */

import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { type CliResult, errorCode, lifeboat } from "../../helpers/cli.ts";
import { fillRandom, makeImage, mutateImage, sha256File } from "../../helpers/disk-image.ts";
import { closedPort } from "./s3-faults.ts";
import { type Rgw, rgwUnavailable, startRgw } from "./rgw-setup.ts";
import { backUpTwiceAtOnce } from "./same-source-race.ts";

const BIN = fileURLToPath(new URL("../../../bin/lifeboat.js", import.meta.url));
const PASSWORD = "correct horse battery staple";
const MiB = 1 << 20;
const CHUNK = 64 * 1024;

interface BackupJson {
  point: { id: string; seq: number };
  mode: string;
  bytesRead: number;
  bytesStored: number;
  disks: { chunksStored: number; chunksRead: number }[];
}
interface PointsJson {
  points: { id: string; source: string; seq: number }[];
}

const unavailable = rgwUnavailable();

describe.skipIf(unavailable !== undefined)("the lifeboat CLI on an S3 repository (Ceph RGW)", () => {
  let rgw: Rgw;
  let bucket: string;
  let dir: string;
  /** Every output of every run, to prove no secret ever reaches a terminal or a log. */
  const outputs: string[] = [];

  const run = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const result = await lifeboat(args, { ...rgw.env(), LIFEBOAT_PASSWORD: PASSWORD, ...env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const ok = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
    const result = await run(["--json", ...args], env);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };
  /** A repository made in-process (cheap key derivation) for tests whose subject is not `repo init`. */
  const init = async (name: string): Promise<{ repo: string; repoId: string }> => {
    const store = rgw.store(bucket, `${name}/`);
    try {
      const created = await Repository.init(store, {
        encryption: "aes-256-gcm",
        password: PASSWORD,
        kdfCost: 1024,
      });
      return { repo: `s3://${bucket}/${name}`, repoId: created.config.repoId };
    } finally {
      store.destroy();
    }
  };
  const backup = async (repo: string, image: string, ...extra: string[]) =>
    JSON.parse(await ok(["backup", "--source", `image:${image}`, "--repo", repo, ...extra])) as BackupJson;
  const points = async (repo: string) =>
    (JSON.parse(await ok(["points", "--repo", repo])) as PointsJson).points;
  const restoredHash = async (repo: string, point: string, name: string) => {
    const target = join(dir, name);
    await ok(["restore", "--repo", repo, "--point", point, "--to", target, "--verify"]);
    const hash = await sha256File(target);
    await rm(target);
    return hash;
  };

  beforeAll(async () => {
    rgw = await startRgw();
    bucket = await rgw.createBucket("cli");
    dir = await mkdtemp(join(tmpdir(), "lifeboat-s3-cli-"));
  });
  afterAll(async () => {
    await rgw?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("backs up an image, restores each point bit-exact and verifies the repository, all through s3://", async () => {
    const repo = `s3://${bucket}/main`;
    const image = join(dir, "main.img");
    const state = join(dir, "main-state");
    await makeImage(image, 16 * MiB, 3);
    await ok(["repo", "init", "--repo", repo]);

    const first = await backup(repo, image, "--state-dir", state);
    expect(first.mode).toBe("full");
    const v1 = await sha256File(image);
    await mutateImage(image, 16 * MiB, 8, 11);
    const second = await backup(repo, image, "--state-dir", state);
    expect(second.point.seq).toBe(2);
    expect(second.bytesStored).toBeLessThan(first.bytesStored / 5);

    expect(await restoredHash(repo, first.point.id, "r1.img")).toBe(v1);
    expect(await restoredHash(repo, second.point.id, "r2.img")).toBe(await sha256File(image));
    await ok(["verify", "--repo", repo, "--full"]);

    const keys = await rgw.keys(bucket, "main/");
    for (const top of ["lifeboat.json", "keys/", "packs/", "disks/", "points/"]) {
      expect(keys.some((k) => k.startsWith(`main/${top}`))).toBe(true);
    }
    expect(keys.filter((k) => k.startsWith("main/lifeboat-probe/"))).toEqual([]);
  });

  it("runs the simulated host against the S3 repository and verifies every committed point", async () => {
    const { repo } = await init("sim");
    const report = JSON.parse(
      await ok(["sim", "--repo", repo, "--seed", "5", "--disk-size", "8M", "--syncs", "4"]),
    ) as { points: { verified: boolean }[]; ok: boolean };
    expect(report.ok).toBe(true);
    expect(report.points.length).toBeGreaterThan(0);
    expect(report.points.every((p) => p.verified)).toBe(true);
  });

  it("lets two sources back up into one repository at the same time: both commit and restore bit-exact", async () => {
    const { repo } = await init("shared");
    const images = [join(dir, "a.img"), join(dir, "b.img")];
    await Promise.all(images.map((image, i) => makeImage(image, 16 * MiB, 20 + i)));
    const results = await Promise.all(
      images.map((image, i) =>
        backup(repo, image, "--source-name", `host-${i}`, "--state-dir", join(dir, `shared-state-${i}`)),
      ),
    );
    expect(results.map((r) => r.point.id).sort()).toEqual(["host-0@1", "host-1@1"]);
    for (const [i, image] of images.entries()) {
      expect(await restoredHash(repo, `host-${i}@1`, `shared-${i}.img`)).toBe(await sha256File(image));
    }
  });

  it("commits one point when one source is backed up twice at once; the other job gets CONFLICT", async () => {
    const { repo } = await init("race");
    const image = join(dir, "race.img");
    await makeImage(image, 8 * MiB, 31);
    const race = await backUpTwiceAtOnce(rgw, bucket, "race/", image, PASSWORD);
    expect(race.winner).toBe("committed");
    expect(race.loser).toBe("CONFLICT");
    // No partial point: exactly the winner's point exists, and it restores bit-exact.
    expect((await points(repo)).map((p) => p.id)).toEqual(["race-host@1"]);
    expect(await rgw.keys(bucket, "race/points/")).toEqual(["race/points/race-host/0000000001"]);
    expect(await restoredHash(repo, "race-host@1", "race.out")).toBe(await sha256File(image));
  });

  it("resumes a backup killed mid-upload: no partial point, and what was stored is not uploaded again", async () => {
    const { repo, repoId } = await init("kill");
    const image = join(dir, "big.img");
    const state = join(dir, "kill-state");
    const size = 160 * MiB;
    await fillRandom(image, size); // incompressible and unique: every chunk is its own blob
    const args = ["--json", "backup", "--source", `image:${image}`, "--repo", repo, "--state-dir", state];

    // The job records its progress after every 64 MiB made durable; kill it right after the first.
    const child = spawn(process.execPath, [BIN, ...args, "--source-name", "big"], {
      env: { ...process.env, ...rgw.env(), LIFEBOAT_PASSWORD: PASSWORD, LIFEBOAT_LOG_LEVEL: "warn" },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const resumeFile = join(state, `resume-${repoId}-big.json`);
    await waitFor(
      async () => (await readdir(state).catch((): string[] => [])).includes(basename(resumeFile)),
      exited,
    );
    child.kill("SIGKILL");
    expect(await exited).toBeNull();

    expect(await rgw.keys(bucket, "kill/points/")).toEqual([]);
    expect(await rgw.keys(bucket, "kill/disks/")).toEqual([]);
    const packsAtKill = (await rgw.keys(bucket, "kill/packs/")).length;
    const saved = JSON.parse(await readFile(resumeFile, "utf8")) as {
      refs: [string, string, number, number][];
    };
    const resumed = saved.refs.length;
    expect(resumed).toBeGreaterThan(0);

    const again = await backup(repo, image, "--state-dir", state, "--source-name", "big");
    const chunks = size / CHUNK;
    const blob = saved.refs[0]?.[3] ?? 0;
    expect(again.bytesRead).toBe(size);
    expect(again.disks[0]?.chunksStored).toBe(chunks - resumed);
    expect(again.bytesStored).toBe((chunks - resumed) * blob);
    const newPacks = (await rgw.keys(bucket, "kill/packs/")).length - packsAtKill;
    const blobsPerPack = Math.floor((8 * MiB) / blob) - 1;
    expect(newPacks).toBeLessThanOrEqual(Math.ceil((chunks - resumed) / blobsPerPack) + 1);
    expect(newPacks).toBeLessThan(Math.ceil(chunks / (blobsPerPack + 1)));
    expect(await restoredHash(repo, again.point.id, "big.out")).toBe(await sha256File(image));
  });

  it("gives coded errors for bad credentials, a missing bucket and an unreachable server, writing nothing", async () => {
    const wrongSecret = await run(["--json", "repo", "init", "--repo", `s3://${bucket}/denied`], {
      AWS_SECRET_ACCESS_KEY: "not-the-secret",
    });
    expect([wrongSecret.code, errorCode(wrongSecret)], wrongSecret.stderr).toEqual([2, "STORE_AUTH"]);
    expect(await rgw.keys(bucket, "denied/")).toEqual([]);

    const noCredentials = await run(["--json", "points", "--repo", `s3://${bucket}/main`], {
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
    });
    expect([noCredentials.code, errorCode(noCredentials)], noCredentials.stderr).toEqual([2, "STORE_AUTH"]);

    const noBucket = await run(["--json", "repo", "init", "--repo", "s3://no-such-bucket/repo"]);
    expect([noBucket.code, errorCode(noBucket)], noBucket.stderr).toEqual([2, "BUCKET_NOT_FOUND"]);
    expect(noBucket.stderr).toContain("no-such-bucket");

    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const unreachable = await run(["--json", "repo", "init", "--repo", `s3://${bucket}/unreachable`], {
      LIFEBOAT_S3_ENDPOINT: endpoint,
    });
    expect([unreachable.code, errorCode(unreachable)], unreachable.stderr).toEqual([1, "STORE_IO"]);
    expect(unreachable.stderr).toContain(endpoint);
    // Each retry is logged, not silent.
    expect(unreachable.stderr).toContain("S3 request failed; retrying");
    expect(await rgw.keys(bucket, "unreachable/")).toEqual([]);
  });

  it("never prints the S3 secret, even with debug logs", async () => {
    await ok(["--log-level", "debug", "points", "--repo", `s3://${bucket}/main`]);
    // Logs were written (the retries above warn with the failing request), so the check is not vacuous.
    expect(outputs.some((output) => output.includes('"msg":"S3 request failed; retrying"'))).toBe(true);
    for (const output of outputs) {
      expect(output).not.toContain(rgw.secretAccessKey);
      expect(output).not.toContain("not-the-secret");
    }
  });
});

/** Polls `condition` until it holds; fails if the process ends first. */
async function waitFor(condition: () => Promise<boolean>, ended: Promise<unknown>): Promise<void> {
  let done = false;
  void ended.then(() => {
    done = true;
  });
  const deadline = Date.now() + 60_000;
  while (!(await condition())) {
    if (done) throw new Error("the backup ended before it recorded any progress: make the image larger");
    if (Date.now() > deadline) throw new Error("the backup recorded no progress within 60 s");
    await delay(10);
  }
}
