import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FsStateStore } from "../../../src/adapters/state-fs/fs-state-store.ts";
import { expectLifeboatError } from "../../unit/store/object-store-contract.ts";

describe("FsStateStore on a real directory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-state-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps values across reopening, replaces them whole and deletes them", async () => {
    const state = await FsStateStore.open(join(dir, "agent"));
    expect(await state.read("registration")).toBeUndefined();
    await state.write("registration", { source: "host-01", tokens: { disk0: "usn:42" } });
    await state.write("registration", { source: "host-01", tokens: { disk0: "usn:43" } });
    const reopened = await FsStateStore.open(join(dir, "agent"));
    expect(await reopened.read("registration")).toEqual({ source: "host-01", tokens: { disk0: "usn:43" } });
    await reopened.delete("registration");
    await reopened.delete("registration");
    expect(await reopened.read("registration")).toBeUndefined();
  });

  it("leaves only the value files after many concurrent writes, each file whole", async () => {
    const state = await FsStateStore.open(dir);
    const big = "x".repeat(100_000);
    await Promise.all(Array.from({ length: 20 }, (_, i) => state.write("job", { i, big })));
    expect(await readdir(dir)).toEqual(["job.json"]);
    const value = await state.read<{ i: number; big: string }>("job");
    expect(value?.big).toBe(big);
  });

  it("reports a corrupt file as CONFIG_INVALID naming it and saying it can be deleted", async () => {
    const state = await FsStateStore.open(dir);
    await writeFile(join(dir, "job.json"), '{"seq": 4, "done": [1, 2');
    const error = await expectLifeboatError(state.read("job"), "CONFIG_INVALID", join(dir, "job.json"));
    expect(error.remedy).toContain(`Delete ${join(dir, "job.json")}`);
    expect(error.remedy).toContain("nothing in the repository is lost");
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it("ignores a crashed writer's temp file and sweeps it once it is old", async () => {
    const state = await FsStateStore.open(dir);
    await state.write("job", { seq: 1 });
    const orphan = join(dir, ".job.abc123.tmp");
    await writeFile(orphan, '{"seq": 2, "half');
    expect(await state.read("job")).toEqual({ seq: 1 });
    await FsStateStore.open(dir);
    expect((await readdir(dir)).sort()).toEqual([".job.abc123.tmp", "job.json"]);
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(orphan, old, old);
    await FsStateStore.open(dir);
    expect(await readdir(dir)).toEqual(["job.json"]);
  });

  it("refuses keys that are not plain file names", async () => {
    const state = await FsStateStore.open(dir);
    for (const key of ["", "../escape", "a/b", ".job", "job.", "a\\b", "x".repeat(129)]) {
      await expectLifeboatError(state.write(key, 1), "USAGE");
      await expectLifeboatError(state.read(key), "USAGE");
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
