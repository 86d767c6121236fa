import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { bytes, describeObjectStoreContract } from "./object-store-contract.ts";

describeObjectStoreContract("MemoryStore", async () => ({ store: new MemoryStore() }));

describe("MemoryStore inspection helpers", () => {
  it("lets a test tamper with an object behind the store's back", async () => {
    const store = new MemoryStore();
    await store.put("chunks/ab/1", bytes("good"));
    store.rawPut("chunks/ab/1", bytes("evil"));
    expect(await store.get("chunks/ab/1")).toEqual(bytes("evil"));
    expect(store.rawDelete("chunks/ab/1")).toBe(true);
    expect(await store.head("chunks/ab/1")).toBeUndefined();
  });

  it("hands out copies from keys, rawGet and snapshot", async () => {
    const store = new MemoryStore();
    await store.put("b", bytes("bb"));
    await store.put("a", bytes("a"));
    expect(store.keys()).toEqual(["a", "b"]);
    expect(store.totalBytes()).toBe(3);
    const before = store.snapshot();
    store.rawGet("a")?.fill(0);
    before.get("b")?.fill(0);
    expect(store.snapshot()).toEqual(
      new Map([
        ["a", bytes("a")],
        ["b", bytes("bb")],
      ]),
    );
  });

  it("does not list an object deleted while the listing runs", async () => {
    const store = new MemoryStore();
    for (const key of ["a", "b", "c"]) await store.put(key, bytes(key));
    const seen: string[] = [];
    for await (const entry of store.list("")) {
      seen.push(entry.key);
      if (entry.key === "a") await store.delete("b");
    }
    expect(seen).toEqual(["a", "c"]);
  });
});
