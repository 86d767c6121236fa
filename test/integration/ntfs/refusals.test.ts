/**
 * What an operator sees when a disk cannot be synced by allocation: a dynamic disk with a mirrored
 * volume is refused (exit 2, DYNAMIC_VOLUME_UNSUPPORTED), and an NTFS volume whose $LogFile is not
 * clean is synced whole with the reason in the job's warnings.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { unpackFixture } from "../../helpers/ntfs-images.ts";
import { dynamicDiskImage } from "../../unit/formats/ldm-image.ts";

const env = { LIFEBOAT_PASSWORD: "refusals" };
let dir: string;
let repo: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-refusals-"));
  repo = join(dir, "repo");
  const init = await lifeboat(["repo", "init", "--repo", repo, "--encryption", "none"], env);
  expect(init.code, init.stderr).toBe(0);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const backup = (image: string) =>
  lifeboat(
    ["--json", "backup", "--source", `image:${image}`, "--repo", repo, "--state-dir", join(dir, "state")],
    env,
  );

describe("disks that cannot be synced by allocation", () => {
  it("refuses a dynamic disk holding a mirrored volume, and inspect shows why", async () => {
    const image = join(dir, "dynamic.img");
    await writeFile(
      image,
      dynamicDiskImage([
        {
          name: "Mirror",
          components: [2, 2],
          partitions: [
            { component: 0, disk: 0, sectors: 4096 },
            { component: 1, disk: 1, sectors: 4096 },
          ],
        },
      ]),
    );
    const r = await backup(image);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("DYNAMIC_VOLUME_UNSUPPORTED");
    const shown = await lifeboat(["--json", "inspect", image]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).dynamic).toMatchObject({
      scheme: "mbr",
      volumes: [{ name: "Mirror", layout: "mirrored", onThisDisk: true }],
    });
  });

  it("syncs an NTFS volume with a dirty $LogFile whole and says so in the job's warnings", async () => {
    const image = await unpackFixture(
      "volumes/jschicht-LogFileParser__SampleTinyNtfsVolume-partition.dd.gz",
      dir,
    );
    const r = await backup(image);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { bytesRead: number; warnings: string[] };
    expect(result.bytesRead).toBe(7 << 20);
    expect(result.warnings.join("\n")).toMatch(/NTFS_INVALID: .*\$LogFile holds unfinished transactions/);
  });
});
