import { describe, expect, it } from "vitest";
import { MemoryStateStore } from "../../../src/adapters/state-memory/memory-state-store.ts";
import { expectLifeboatError } from "./object-store-contract.ts";

describe("MemoryStateStore", () => {
  it("round-trips values and forgets deleted ones", async () => {
    const state = new MemoryStateStore();
    expect(await state.read("job")).toBeUndefined();
    await state.write("job", { seq: 3, done: [1, 2] });
    expect(await state.read("job")).toEqual({ seq: 3, done: [1, 2] });
    await state.delete("job");
    await state.delete("job");
    expect(await state.read("job")).toBeUndefined();
  });

  it("stores values as JSON, so neither side can alias them and only JSON survives", async () => {
    const state = new MemoryStateStore();
    const value = { done: [1], at: new Date(0) };
    await state.write("job", value);
    value.done.push(2);
    const read = await state.read<{ done: number[]; at: string }>("job");
    expect(read).toEqual({ done: [1], at: "1970-01-01T00:00:00.000Z" });
    read?.done.push(9);
    expect(await state.read("job")).toEqual({ done: [1], at: "1970-01-01T00:00:00.000Z" });
  });

  it("refuses keys that are not plain file names and values with no JSON form", async () => {
    const state = new MemoryStateStore();
    for (const key of ["", "../x", "a/b", ".hidden", "a b"])
      await expectLifeboatError(state.write(key, 1), "USAGE");
    await expectLifeboatError(state.write("job", undefined), "INTERNAL", "job");
    await expectLifeboatError(state.write("job", { n: 1n }), "INTERNAL", "job");
  });
});
