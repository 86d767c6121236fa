import { describe, expect, it } from "vitest";
import { Semaphore, ThrottledStore } from "../../../src/adapters/store-decorators/throttled-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { LifeboatError } from "../../../src/domain/errors.ts";
import type { Clock } from "../../../src/ports/clock.ts";
import type { ByteRange, ObjectStore } from "../../../src/ports/object-store.ts";
import { bytes, collect, expectLifeboatError } from "./object-store-contract.ts";

/**
 * Virtual time: when every pending operation is asleep (checked on the next macrotask turn, after
 * all ready promises ran), time jumps to the earliest wake-up. Seconds of throttling cost nothing.
 */
class VirtualClock implements Clock {
  #now = 0;
  #timers: { at: number; wake: () => void }[] = [];
  #scheduled = false;

  now(): number {
    return this.#now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.#timers.push({ at: this.#now + ms, wake });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers.shift();
      if (next === undefined) return;
      this.#now = Math.max(this.#now, next.at);
      next.wake();
      if (this.#timers.length > 0) this.#schedule();
    });
  }
}

/**
 * An inner store whose operations take exactly `latencyMs` of virtual time (its data lives in a plain
 * map, so nothing else takes a macrotask turn that the virtual clock could mistake for idleness) and
 * that tracks its concurrency.
 */
class SlowStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  inFlight = 0;
  maxInFlight = 0;
  /** [virtual time, payload bytes] of each put as it reaches the store. */
  readonly putLog: [number, number][] = [];

  constructor(
    private readonly clock: Clock,
    private readonly latencyMs: number,
  ) {}

  async #timed<T>(action: () => T): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.clock.sleep(this.latencyMs);
      return action();
    } finally {
      this.inFlight--;
    }
  }
  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }) {
    this.putLog.push([this.clock.now(), data.length]);
    return this.#timed((): "created" | "exists" => {
      if (options?.ifAbsent && this.objects.has(key)) return "exists";
      this.objects.set(key, data);
      return "created";
    });
  }
  get(key: string, range?: ByteRange) {
    return this.#timed(() => {
      const data = this.objects.get(key);
      if (data === undefined) throw new LifeboatError("OBJECT_MISSING", `object "${key}" does not exist`);
      return range ? data.slice(range.offset, range.offset + range.length) : data;
    });
  }
  head(key: string) {
    return this.#timed(() => {
      const data = this.objects.get(key);
      return data && { size: data.length };
    });
  }
  async *list(prefix: string) {
    for (const key of [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      yield await this.#timed(() => ({ key, size: this.objects.get(key)?.length ?? 0 }));
    }
  }
  delete(key: string) {
    return this.#timed(() => void this.objects.delete(key));
  }
}

describe("ThrottledStore", () => {
  it("holds concurrent puts to the bandwidth limit, after one burst", async () => {
    const clock = new VirtualClock();
    const slow = new SlowStore(clock, 0);
    const store = new ThrottledStore(slow, { clock, bytesPerSecond: 100_000 });
    const objects = Array.from({ length: 20 }, () => new Uint8Array(50_000));
    await Promise.all(objects.map((data, i) => store.put(`chunks/${i}`, data)));

    // 1 MB at 100 kB/s with a 100 kB burst: the last byte may pass at 9 s, not before.
    expect(clock.now()).toBeGreaterThanOrEqual(9000);
    expect(clock.now()).toBeLessThanOrEqual(9001);
    let passed = 0;
    for (const [at, size] of slow.putLog) {
      passed += size;
      expect(passed).toBeLessThanOrEqual(100_000 + 100 * at);
    }
  });

  it("charges gets for the bytes they return", async () => {
    const clock = new VirtualClock();
    const slow = new SlowStore(clock, 0);
    slow.objects.set("pack", new Uint8Array(30_000));
    const store = new ThrottledStore(slow, { clock, bytesPerSecond: 10_000, burstBytes: 10_000 });
    for (let i = 0; i < 4; i++) await store.get("pack", { offset: 0, length: 30_000 });
    // 120 kB at 10 kB/s with a 10 kB burst.
    expect(clock.now()).toBe(11_000);
  });

  it("never lets more operations run at once than the concurrency limit", async () => {
    const clock = new VirtualClock();
    const slow = new SlowStore(clock, 10);
    const store = new ThrottledStore(slow, { clock, maxConcurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.put(`k${i}`, bytes("x"))));
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.head(`k${i}`)));
    expect(slow.maxInFlight).toBe(3);
    expect(clock.now()).toBe(80); // 2 × 12 operations, 3 at a time, 10 ms each
  });

  it("does not deadlock a consumer that reads objects inside its listing loop", async () => {
    const clock = new VirtualClock();
    const slow = new SlowStore(clock, 1);
    for (const key of ["a", "b", "c"]) slow.objects.set(key, bytes(key));
    const store = new ThrottledStore(slow, { clock, maxConcurrency: 1 });
    const read: string[] = [];
    for await (const entry of store.list("")) read.push(new TextDecoder().decode(await store.get(entry.key)));
    expect(read).toEqual(["a", "b", "c"]);
    expect(await collect(store.list("b"))).toEqual([{ key: "b", size: 1 }]);
  }, 2000);

  it("passes errors through and frees the slot", async () => {
    const clock = new VirtualClock();
    const store = new ThrottledStore(new SlowStore(clock, 0), { clock, maxConcurrency: 1 });
    await expectLifeboatError(store.get("missing"), "OBJECT_MISSING", "missing");
    expect(await store.put("k", bytes("x"))).toBe("created");
  });

  it("refuses nonsense limits", () => {
    const clock = new VirtualClock();
    expect(() => new ThrottledStore(new MemoryStore(), { clock, bytesPerSecond: 0 })).toThrow(/bandwidth/);
    expect(() => new Semaphore(0)).toThrow(/concurrency/);
  });
});
