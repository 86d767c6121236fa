/**
 * The behaviour every ObjectStore must have, as a suite any implementation runs against itself:
 * `describeObjectStoreContract("S3Store", async () => ({ store, dispose }))`.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ErrorCode, LifeboatError } from "../../../src/domain/errors.ts";
import type { ObjectStore } from "../../../src/ports/object-store.ts";

export interface ContractSubject {
  readonly store: ObjectStore;
  /** Releases what the factory made (a temp dir, a bucket). */
  readonly dispose?: () => Promise<void>;
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export async function collect(iterable: AsyncIterable<{ key: string; size: number }>) {
  const out: { key: string; size: number }[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

/** Compares byte arrays without vitest's element-by-element deep equality, which crawls on megabytes. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  const first = actual.findIndex((b, i) => b !== expected[i]);
  expect(first, `bytes differ first at offset ${first}`).toBe(-1);
}

/** Asserts that `promise` rejects with a LifeboatError of `code` whose message contains `mentions`. */
export async function expectLifeboatError(
  promise: Promise<unknown>,
  code: ErrorCode,
  mentions?: string,
): Promise<LifeboatError> {
  const error = await promise.then(
    () => expect.fail(`expected a ${code} error, but the operation succeeded`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LifeboatError);
  const lifeboatError = error as LifeboatError;
  expect(lifeboatError.code).toBe(code);
  if (mentions !== undefined) expect(lifeboatError.message).toContain(mentions);
  return lifeboatError;
}

const INVALID_KEYS = [
  "",
  "../escape",
  "a/../../escape",
  "/absolute",
  "a//b",
  "a/",
  "./a",
  "a\\b",
  "with space",
  "tab\there",
  "colon:stream",
  "café",
  ".tmp/x",
  "x".repeat(1025),
];

export function describeObjectStoreContract(name: string, factory: () => Promise<ContractSubject>): void {
  describe(`${name} (ObjectStore contract)`, () => {
    let subject: ContractSubject;
    let store: ObjectStore;

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose?.();
    });

    it("returns exactly the bytes that were put, including an empty object", async () => {
      const data = new Uint8Array(70_000).map((_, i) => (i * 31) % 256);
      expect(await store.put("chunks/ab/abcdef", data)).toBe("created");
      expectSameBytes(await store.get("chunks/ab/abcdef"), data);
      expect(await store.put("empty", new Uint8Array(0))).toBe("created");
      expect(await store.get("empty")).toEqual(new Uint8Array(0));
      expect(await store.head("chunks/ab/abcdef")).toEqual({ size: 70_000 });
    });

    it("is not changed by the caller reusing its buffers", async () => {
      const data = bytes("original");
      await store.put("k", data);
      data.fill(0);
      const read = await store.get("k");
      read.fill(1);
      expect(await store.get("k")).toEqual(bytes("original"));
    });

    it("reports a missing object as OBJECT_MISSING naming the key, and head as undefined", async () => {
      await expectLifeboatError(store.get("points/src/000042"), "OBJECT_MISSING", "points/src/000042");
      await expectLifeboatError(
        store.get("nowhere/x", { offset: 0, length: 1 }),
        "OBJECT_MISSING",
        "nowhere/x",
      );
      expect(await store.head("points/src/000042")).toBeUndefined();
    });

    it("replaces an object on a plain put", async () => {
      await store.put("lifeboat.json", bytes("v1"));
      expect(await store.put("lifeboat.json", bytes("version 2"))).toBe("created");
      expect(await store.get("lifeboat.json")).toEqual(bytes("version 2"));
    });

    it("leaves an existing object untouched on a create-only put and answers exists", async () => {
      expect(await store.put("points/src/1", bytes("first"), { ifAbsent: true })).toBe("created");
      expect(await store.put("points/src/1", bytes("second"), { ifAbsent: true })).toBe("exists");
      expect(await store.get("points/src/1")).toEqual(bytes("first"));
    });

    it("lets exactly one of many concurrent create-only puts of a key create it, whole", async () => {
      const candidates = Array.from({ length: 24 }, (_, i) => new Uint8Array(4096 + i).fill(i));
      const results = await Promise.all(
        candidates.map((c) => store.put("points/src/7", c, { ifAbsent: true })),
      );
      expect(results.filter((r) => r === "created")).toHaveLength(1);
      const winner = candidates[results.indexOf("created")];
      expect(await store.get("points/src/7")).toEqual(winner);
    });

    it("reads exactly the requested range", async () => {
      await store.put("pack", bytes("0123456789"));
      expect(await store.get("pack", { offset: 3, length: 4 })).toEqual(bytes("3456"));
      expect(await store.get("pack", { offset: 0, length: 10 })).toEqual(bytes("0123456789"));
      expect(await store.get("pack", { offset: 10, length: 0 })).toEqual(new Uint8Array(0));
      expect(await store.get("pack", { offset: 4, length: 0 })).toEqual(new Uint8Array(0));
    });

    it("rejects a range past the end as a short (corrupt) object, naming it", async () => {
      await store.put("pack", bytes("0123456789"));
      await expectLifeboatError(store.get("pack", { offset: 8, length: 3 }), "OBJECT_CORRUPT", "pack");
      await expectLifeboatError(store.get("pack", { offset: 11, length: 0 }), "OBJECT_CORRUPT", "pack");
    });

    it("rejects a malformed range as a usage error", async () => {
      await store.put("pack", bytes("0123456789"));
      await expectLifeboatError(store.get("pack", { offset: -1, length: 2 }), "USAGE", "pack");
      await expectLifeboatError(store.get("pack", { offset: 0.5, length: 2 }), "USAGE", "pack");
    });

    it("lists in ascending key order across nesting, with sizes", async () => {
      const keys = ["a0", "a/c", "a-b", "a/b/z", "a/b-1", "b", "a/b/y/q"];
      for (const key of keys) await store.put(key, bytes(key));
      const listed = await collect(store.list(""));
      expect(listed.map((e) => e.key)).toEqual([...keys].sort());
      for (const entry of listed) expect(entry.size).toBe(entry.key.length);
    });

    it("lists only keys starting with the prefix, including a prefix that cuts a segment", async () => {
      for (const key of ["chunks/ab/1", "chunks/ab/2", "chunks/ac/1", "chunksx", "points/s/1"]) {
        await store.put(key, bytes("x"));
      }
      const keysOf = async (prefix: string) => (await collect(store.list(prefix))).map((e) => e.key);
      expect(await keysOf("chunks/")).toEqual(["chunks/ab/1", "chunks/ab/2", "chunks/ac/1"]);
      expect(await keysOf("chunks")).toEqual(["chunks/ab/1", "chunks/ab/2", "chunks/ac/1", "chunksx"]);
      expect(await keysOf("chunks/a")).toEqual(["chunks/ab/1", "chunks/ab/2", "chunks/ac/1"]);
      expect(await keysOf("chunks/ab/")).toEqual(["chunks/ab/1", "chunks/ab/2"]);
      expect(await keysOf("chunks/ab/1")).toEqual(["chunks/ab/1"]);
      expect(await keysOf("locks/")).toEqual([]);
      expect(await keysOf("chunks/ab/1/")).toEqual([]);
    });

    it("deletes an object, and deleting a missing object succeeds", async () => {
      await store.put("locks/prune", bytes("lease"));
      await store.delete("locks/prune");
      expect(await store.head("locks/prune")).toBeUndefined();
      expect(await collect(store.list("locks/"))).toEqual([]);
      await store.delete("locks/prune");
      await store.delete("never/was");
    });

    it("rejects keys that could escape the store or differ between stores, touching nothing", async () => {
      for (const key of INVALID_KEYS) {
        await expectLifeboatError(store.put(key, bytes("x")), "USAGE");
        await expectLifeboatError(store.put(key, bytes("x"), { ifAbsent: true }), "USAGE");
        await expectLifeboatError(store.get(key), "USAGE");
        await expectLifeboatError(store.head(key), "USAGE");
        await expectLifeboatError(store.delete(key), "USAGE");
      }
      await expectLifeboatError(collect(store.list("../")), "USAGE");
      await expectLifeboatError(collect(store.list("/")), "USAGE");
      await expectLifeboatError(collect(store.list("a\\")), "USAGE");
      expect(await collect(store.list(""))).toEqual([]);
    });

    it("accepts the key shapes a repository uses", async () => {
      const keys = [
        "lifeboat.json",
        `chunks/9f/${"9f".repeat(32)}`,
        "points/host-01/00000000000000000001",
        "disks/host-01/disk%3A0/00000000000000000001",
        "index/host-01/disk_0/00000000000000000001",
        "locks/prune",
      ];
      for (const key of keys) expect(await store.put(key, bytes(key), { ifAbsent: true })).toBe("created");
      expect((await collect(store.list(""))).map((e) => e.key)).toEqual([...keys].sort());
    });
  });
}
