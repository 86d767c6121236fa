import { describe, expect, it } from "vitest";
import { ReadOnlyStore } from "../../../src/adapters/store-decorators/read-only-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { bytes, collect, expectLifeboatError } from "./object-store-contract.ts";

describe("ReadOnlyStore", () => {
  it("refuses to put or delete, naming the key, and leaves the repository untouched", async () => {
    const inner = new MemoryStore();
    await inner.put("points/s/1", bytes("point"));
    const store = new ReadOnlyStore(inner);
    await expectLifeboatError(
      store.put("points/s/2", bytes("x"), { ifAbsent: true }),
      "INTERNAL",
      "points/s/2",
    );
    await expectLifeboatError(store.delete("points/s/1"), "INTERNAL", "read-only");
    expect(inner.snapshot()).toEqual(new Map([["points/s/1", bytes("point")]]));
  });

  it("passes reads through", async () => {
    const inner = new MemoryStore();
    await inner.put("pack", bytes("0123"));
    const store = new ReadOnlyStore(inner);
    expect(await store.get("pack", { offset: 1, length: 2 })).toEqual(bytes("12"));
    expect(await store.head("pack")).toEqual({ size: 4 });
    expect(await collect(store.list(""))).toEqual([{ key: "pack", size: 4 }]);
    await expectLifeboatError(store.get("gone"), "OBJECT_MISSING", "gone");
  });
});
