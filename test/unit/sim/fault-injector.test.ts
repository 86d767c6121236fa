import { describe, expect, it } from "vitest";
import { FaultInjector, SimulatedCrash } from "../../../src/adapters/sim/fault-injector.ts";
import { FaultyStore } from "../../../src/adapters/store-decorators/faulty-store.ts";
import { isRetryable } from "../../../src/adapters/store-decorators/retrying-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("fault injector and faulty store", () => {
  it("fires an armed fault at the first applicable step at or after its step", async () => {
    const faults = new FaultInjector();
    faults.arm({ atStep: 2, kind: "store-enospc" });
    const store = new FaultyStore(new MemoryStore(), (op, key) => faults.storeFault(op, key));
    faults.hit("snapshot.opened"); // step 1
    expect(await store.get("a").catch((e: unknown) => e)).toMatchObject({ code: "OBJECT_MISSING" }); // step 2: a get, not applicable
    const err = await store.put("a", bytes("x")).catch((e: unknown) => e);
    expect(isLifeboatError(err, "STORE_FULL")).toBe(true);
    expect(faults.injected.get("store-enospc")).toBe(1);
    expect(await store.put("a", bytes("x"))).toBe("created");
  });

  it("a lost reply lands the write and still reports a retryable error", async () => {
    const inner = new MemoryStore();
    const faults = new FaultInjector();
    faults.arm({ atStep: 1, kind: "store-lost-reply" });
    const store = new FaultyStore(inner, (op, key) => faults.storeFault(op, key));
    const err = await store.put("k", bytes("v"), { ifAbsent: true }).catch((e: unknown) => e);
    expect(isRetryable(err)).toBe(true);
    expect(await inner.head("k")).toEqual({ size: 1 });
    expect(await store.put("k", bytes("v"), { ifAbsent: true })).toBe("exists");
  });

  it("transient faults are classified retryable by their cause; ENOSPC and crashes are not", () => {
    const faults = new FaultInjector();
    for (const kind of ["store-5xx", "store-slowdown", "store-timeout"] as const) {
      faults.arm({ atStep: 0, kind });
      expect(isRetryable(faults.storeFault("get", "x")?.error)).toBe(true);
    }
    faults.arm({ atStep: 0, kind: "store-enospc" });
    expect(isRetryable(faults.storeFault("put", "x")?.error)).toBe(false);
    faults.arm({ atStep: 0, kind: "crash" });
    expect(faults.storeFault("put", "x")?.error).toBeInstanceOf(SimulatedCrash);
  });

  it("a crash kills the process: every later step throws until it is revived", () => {
    const faults = new FaultInjector();
    faults.arm({ atStep: 1, kind: "crash" });
    expect(() => faults.hit("chunk.read")).toThrow(SimulatedCrash);
    expect(faults.dead).toBe(true);
    expect(() => faults.hit("plan.done")).toThrow(SimulatedCrash);
    expect(() => faults.stateFault("k")).toThrow(SimulatedCrash);
    faults.revive();
    expect(() => faults.hit("plan.done")).not.toThrow();
  });

  it("a torn temp file is left behind by a put that dies half-way", async () => {
    const faults = new FaultInjector();
    const torn: Array<[string, number]> = [];
    faults.tornTemp = async (key, data) => {
      torn.push([key, data.length]);
    };
    faults.arm({ atStep: 1, kind: "store-torn-temp" });
    const inner = new MemoryStore();
    const store = new FaultyStore(inner, (op, key) => faults.storeFault(op, key));
    await expect(store.put("packs/ab/cd", bytes("12345678"))).rejects.toBeInstanceOf(SimulatedCrash);
    expect(torn).toEqual([["packs/ab/cd", 8]]);
    expect(await inner.head("packs/ab/cd")).toBeUndefined();
  });
});
