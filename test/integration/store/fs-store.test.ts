import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ioError } from "../../../src/adapters/store-fs/fs-io.ts";
import { FsStore } from "../../../src/adapters/store-fs/fs-store.ts";
import {
  bytes,
  collect,
  describeObjectStoreContract,
  expectLifeboatError,
  expectSameBytes,
} from "../../unit/store/object-store-contract.ts";

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), "lifeboat-fs-store-"));
}

describeObjectStoreContract("FsStore", async () => {
  const root = await tempRoot();
  return { store: await FsStore.create(root), dispose: () => rm(root, { recursive: true, force: true }) };
});

describe("FsStore on a real directory", () => {
  let root: string;
  beforeEach(async () => {
    root = await tempRoot();
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("refuses to open a missing directory or a file as a repository", async () => {
    await expectLifeboatError(FsStore.open(join(root, "nope")), "REPO_NOT_FOUND", "nope");
    await writeFile(join(root, "file"), "x");
    await expectLifeboatError(FsStore.open(join(root, "file")), "REPO_NOT_FOUND", "file");
  });

  it("creates missing parent directories of the repository", async () => {
    const store = await FsStore.create(join(root, "a", "b", "repo"));
    await store.put("lifeboat.json", bytes("{}"));
    expect((await stat(join(root, "a", "b", "repo", "lifeboat.json"))).size).toBe(2);
  });

  it("stores each object as a file at its key's path and leaves no temp file behind", async () => {
    const store = await FsStore.create(root);
    await store.put("chunks/ab/abcd", bytes("chunk"), { ifAbsent: true });
    await store.put("chunks/ab/abcd", bytes("chunk"), { ifAbsent: true });
    await store.put("lifeboat.json", bytes("{}"));
    await Promise.all(
      Array.from({ length: 8 }, () => store.put("points/s/1", bytes("p"), { ifAbsent: true })),
    );
    expect(await readdir(join(root, "chunks", "ab"))).toEqual(["abcd"]);
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("lets exactly one of two stores on one directory create a key (two processes racing)", async () => {
    const [a, b] = [await FsStore.create(root), await FsStore.open(root)];
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        (i % 2 ? a : b).put("points/s/9", bytes(`job-${i}`), { ifAbsent: true }),
      ),
    );
    expect(results.filter((r) => r === "created")).toHaveLength(1);
    const winner = results.indexOf("created");
    expect(await a.get("points/s/9")).toEqual(bytes(`job-${winner}`));
  });

  it("never lists temp files, partial writes of a crashed put, or foreign dot-files", async () => {
    const store = await FsStore.create(root);
    await store.put("points/s/1", bytes("p"));
    // What a crash between write and publish leaves: a temp file, and maybe an empty directory.
    await writeFile(join(root, ".tmp", "crashed.tmp"), "half an obj");
    await mkdir(join(root, "points", "s2"));
    await writeFile(join(root, ".DS_Store"), "junk");
    await writeFile(join(root, "points", ".hidden"), "junk");
    expect(await collect(store.list(""))).toEqual([{ key: "points/s/1", size: 1 }]);
    expect(await collect(store.list("points/"))).toEqual([{ key: "points/s/1", size: 1 }]);
  });

  it("leaves only whole objects when the writing process is killed mid-put", async () => {
    await FsStore.create(root);
    // Each object's key states its size and fill byte, so the survivors can be checked alone.
    const writer = `
      import { FsStore } from ${JSON.stringify(new URL("../../../src/adapters/store-fs/fs-store.ts", import.meta.url).href)};
      const store = await FsStore.open(${JSON.stringify(root)});
      for (let i = 0; ; i++) {
        const size = 1 + ((i * 7919) % 300_000);
        const key = "chunks/" + String(i % 16).padStart(2, "0") + "/" + i + "-" + size;
        await store.put(key, new Uint8Array(size).fill(i % 251), { ifAbsent: i % 2 === 0 });
        if (i === 10) process.stdout.write("writing\\n");
      }`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", writer], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await once(child.stdout, "data");
    await delay(30);
    child.kill("SIGKILL");
    await once(child, "exit");

    const store = await FsStore.open(root);
    const survivors = await collect(store.list("chunks/"));
    expect(survivors.length).toBeGreaterThan(10);
    for (const { key, size } of survivors) {
      const [index, expectedSize] = (key.split("/")[2] ?? "").split("-").map(Number);
      expect(size, key).toBe(expectedSize);
      const data = await store.get(key);
      expect(
        data.every((b) => b === (index ?? 0) % 251),
        key,
      ).toBe(true);
    }
  });

  it("sweeps only temp files old enough to be orphans when opened", async () => {
    await FsStore.create(root);
    const hourAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await writeFile(join(root, ".tmp", "orphan.tmp"), "old");
    await utimes(join(root, ".tmp", "orphan.tmp"), hourAgo, hourAgo);
    await writeFile(join(root, ".tmp", "in-flight.tmp"), "new");
    await FsStore.open(root);
    expect(await readdir(join(root, ".tmp"))).toEqual(["in-flight.tmp"]);
    await FsStore.open(root, { now: () => Date.now() + 2 * 60 * 60 * 1000 });
    expect(await readdir(join(root, ".tmp"))).toEqual([]);
  });

  it("recreates the temp directory if someone removed it", async () => {
    const store = await FsStore.create(root);
    await rm(join(root, ".tmp"), { recursive: true });
    expect(await store.put("k", bytes("v"))).toBe("created");
    expect(await store.get("k")).toEqual(bytes("v"));
  });

  it("does not mistake a directory for an object", async () => {
    const store = await FsStore.create(root);
    await store.put("a/b", bytes("x"));
    expect(await store.head("a")).toBeUndefined();
    await expectLifeboatError(store.get("a"), "OBJECT_MISSING", '"a"');
    await expectLifeboatError(store.put("a", bytes("y"), { ifAbsent: true }), "STORE_IO", "directory");
    await expectLifeboatError(store.get("a/b/c"), "OBJECT_MISSING", "a/b/c");
    await store.delete("a");
    expect(await store.get("a/b")).toEqual(bytes("x"));
  });

  it("follows a symlinked subtree, as when chunks live on another disk", async () => {
    const elsewhere = await tempRoot();
    try {
      await mkdir(join(elsewhere, "ab"));
      await writeFile(join(elsewhere, "ab", "1"), "chunk");
      await symlink(elsewhere, join(root, "chunks"));
      const store = await FsStore.open(root);
      expect(await collect(store.list("chunks/"))).toEqual([{ key: "chunks/ab/1", size: 5 }]);
      expect(await store.get("chunks/ab/1")).toEqual(bytes("chunk"));
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("round-trips an object larger than one read", async () => {
    const store = await FsStore.create(root);
    const data = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 7) % 251);
    await store.put("packs/big", data);
    expectSameBytes(await store.get("packs/big"), data);
    const offset = 2 * 1024 * 1024 + 3;
    expectSameBytes(
      await store.get("packs/big", { offset, length: data.length - offset }),
      data.subarray(offset),
    );
  });
});

describe("file-system error mapping", () => {
  const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

  it("reports a full disk or quota as STORE_FULL and anything else as STORE_IO, keeping the cause", () => {
    for (const code of ["ENOSPC", "EDQUOT"]) {
      const error = ioError('put "k" into', "/repo", errno(code));
      expect(error.code).toBe("STORE_FULL");
      expect(error.message).toContain("/repo");
    }
    const io = ioError('get "k" from', "/repo", errno("EIO"));
    expect(io.code).toBe("STORE_IO");
    expect(io.message).toContain('"k"');
    expect((io.cause as Error).message).toContain("EIO");
  });
});
