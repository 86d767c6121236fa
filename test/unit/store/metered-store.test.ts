import { describe, expect, it } from "vitest";
import { MeteredStore } from "../../../src/adapters/store-decorators/metered-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { bytes, collect, expectLifeboatError } from "./object-store-contract.ts";

describe("MeteredStore", () => {
  it("counts operations and payload bytes each way, deduplicated puts apart", async () => {
    const store = new MeteredStore(new MemoryStore());
    expect(await store.put("a", bytes("12345"), { ifAbsent: true })).toBe("created");
    expect(await store.put("a", bytes("12345"), { ifAbsent: true })).toBe("exists");
    await store.put("b", bytes("xyz"));
    await store.get("a");
    await store.get("a", { offset: 1, length: 2 });
    await store.head("a");
    await store.head("zz");
    expect(await collect(store.list(""))).toHaveLength(2);
    await store.delete("b");

    expect(store.metrics()).toEqual({
      puts: 3,
      putsExisting: 1,
      gets: 2,
      heads: 2,
      lists: 1,
      listed: 2,
      deletes: 1,
      bytesWritten: 8,
      bytesRead: 7,
      errors: 0,
      errorsByOp: { put: 0, get: 0, head: 0, list: 0, delete: 0 },
    });
  });

  it("counts failures per kind of operation and passes the error through", async () => {
    const store = new MeteredStore(new MemoryStore());
    await expectLifeboatError(store.get("missing"), "OBJECT_MISSING", "missing");
    await expectLifeboatError(store.put("../x", bytes("x")), "USAGE");
    await expectLifeboatError(collect(store.list("..")), "USAGE");
    const metrics = store.metrics();
    expect(metrics.errors).toBe(3);
    expect(metrics.errorsByOp).toEqual({ put: 1, get: 1, head: 0, list: 1, delete: 0 });
    expect(metrics.gets + metrics.puts + metrics.lists).toBe(0);
  });

  it("counts a listing its consumer stopped early", async () => {
    const store = new MeteredStore(new MemoryStore());
    for (const key of ["a", "b", "c"]) await store.put(key, bytes(key));
    for await (const entry of store.list("")) if (entry.key === "a") break;
    expect(store.metrics()).toMatchObject({ lists: 1, listed: 1 });
  });

  it("hands out a copy that later operations do not change", async () => {
    const store = new MeteredStore(new MemoryStore());
    const before = store.metrics();
    await store.put("a", bytes("a"));
    await store.get("nope").catch(() => undefined);
    expect(before.puts).toBe(0);
    expect(before.errorsByOp.get).toBe(0);
  });
});
