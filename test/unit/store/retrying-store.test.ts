import { describe, expect, it } from "vitest";
import { isRetryable, RetryingStore } from "../../../src/adapters/store-decorators/retrying-store.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { LifeboatError } from "../../../src/domain/errors.ts";
import type { Clock } from "../../../src/ports/clock.ts";
import type { ByteRange, ObjectStore } from "../../../src/ports/object-store.ts";
import { bytes, collect, expectLifeboatError } from "./object-store-contract.ts";

/** A clock whose sleeps return at once but are recorded and advance virtual time. */
function recordingClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

type Op = "put" | "get" | "head" | "list" | "delete";

/** A MemoryStore whose next calls of an operation fail with queued errors; counts every call. */
class FlakyStore implements ObjectStore {
  readonly inner = new MemoryStore();
  readonly calls: Record<Op, number> = { put: 0, get: 0, head: 0, list: 0, delete: 0 };
  readonly #faults: Record<Op, unknown[]> = { put: [], get: [], head: [], list: [], delete: [] };
  /** When set, a put stores its object and then fails anyway (the reply was lost). */
  landThenFail: unknown;
  /** When set, a listing fails after yielding this many entries, once. */
  failListAfter: number | undefined;

  failNext(op: Op, ...errors: unknown[]): this {
    this.#faults[op].push(...errors);
    return this;
  }

  #enter(op: Op): void {
    this.calls[op]++;
    const fault = this.#faults[op].shift();
    if (fault !== undefined) throw fault;
  }

  async put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }) {
    this.#enter("put");
    const result = await this.inner.put(key, data, options);
    if (this.landThenFail !== undefined) {
      const error = this.landThenFail;
      this.landThenFail = undefined;
      throw error;
    }
    return result;
  }
  async get(key: string, range?: ByteRange) {
    this.#enter("get");
    return this.inner.get(key, range);
  }
  async head(key: string) {
    this.#enter("head");
    return this.inner.head(key);
  }
  async *list(prefix: string) {
    this.#enter("list");
    let yielded = 0;
    for await (const entry of this.inner.list(prefix)) {
      if (this.failListAfter !== undefined && yielded === this.failListAfter) {
        this.failListAfter = undefined;
        throw transient("ECONNRESET");
      }
      yielded++;
      yield entry;
    }
  }
  async delete(key: string) {
    this.#enter("delete");
    return this.inner.delete(key);
  }
}

function transient(code = "ETIMEDOUT"): LifeboatError {
  const cause = Object.assign(new Error(`socket ${code}`), { code });
  return new LifeboatError("STORE_IO", `get "k": socket ${code}`, { cause });
}

function httpError(status: number, name = "Error"): Error {
  return Object.assign(new Error(`HTTP ${status}`), { name, $metadata: { httpStatusCode: status } });
}

describe("RetryingStore", () => {
  it("retries a transient failure until the operation succeeds", async () => {
    const flaky = new FlakyStore().failNext("get", transient(), transient("ECONNRESET"));
    await flaky.inner.put("k", bytes("data"));
    const store = new RetryingStore(flaky, { clock: recordingClock(), random: () => 0.5 });
    expect(await store.get("k")).toEqual(bytes("data"));
    expect(flaky.calls.get).toBe(3);
  });

  it("backs off exponentially with full jitter, capped", async () => {
    const clock = recordingClock();
    const flaky = new FlakyStore().failNext("head", ...Array.from({ length: 6 }, () => transient()));
    const policy = { maxAttempts: 7, baseDelayMs: 100, maxDelayMs: 1000 };
    const store = new RetryingStore(flaky, { clock, random: () => 0.999999, policy });
    await store.head("k");
    // Ceilings 100·2^n capped at 1000; random just under 1 gives just under each ceiling.
    expect(clock.sleeps).toEqual([99, 199, 399, 799, 999, 999]);

    const zero = recordingClock();
    const again = new FlakyStore().failNext("head", transient(), transient());
    await new RetryingStore(again, { clock: zero, random: () => 0, policy }).head("k");
    expect(zero.sleeps).toEqual([0, 0]);
  });

  it("gives up after maxAttempts with STORE_IO naming the operation and key, marked final", async () => {
    const flaky = new FlakyStore().failNext("put", ...Array.from({ length: 9 }, () => transient()));
    const store = new RetryingStore(flaky, { clock: recordingClock(), policy: { maxAttempts: 3 } });
    const error = await expectLifeboatError(
      store.put("chunks/ab/1", bytes("x")),
      "STORE_IO",
      'put "chunks/ab/1"',
    );
    expect(error.message).toContain("3 times");
    expect(error.cause).toBeInstanceOf(LifeboatError);
    expect(isRetryable(error)).toBe(false);
    expect(flaky.calls.put).toBe(3);
  });

  it("never retries a missing object, a full store, a corrupt object or a 4xx", async () => {
    const finals = [
      new LifeboatError("OBJECT_MISSING", "object k does not exist"),
      new LifeboatError("STORE_FULL", "no space left", {
        cause: Object.assign(new Error(), { code: "ENOSPC" }),
      }),
      new LifeboatError("OBJECT_CORRUPT", "short object k"),
      new LifeboatError("STORE_IO", "forbidden", { cause: httpError(403, "AccessDenied") }),
    ];
    for (const error of finals) {
      const flaky = new FlakyStore().failNext("get", error);
      const clock = recordingClock();
      const store = new RetryingStore(flaky, { clock });
      await expect(store.get("k")).rejects.toBe(error);
      expect(flaky.calls.get).toBe(1);
      expect(clock.sleeps).toEqual([]);
    }
  });

  it("answers exists when a create-only put landed but its reply was lost", async () => {
    const flaky = new FlakyStore();
    flaky.landThenFail = transient("ECONNRESET");
    const store = new RetryingStore(flaky, { clock: recordingClock() });
    expect(await store.put("points/s/1", bytes("p"), { ifAbsent: true })).toBe("exists");
    expect(await flaky.inner.get("points/s/1")).toEqual(bytes("p"));
  });

  it("resumes a listing that failed midway after the last key it yielded, without repeats", async () => {
    const flaky = new FlakyStore();
    for (const key of ["a", "b", "c", "d"]) await flaky.inner.put(key, bytes(key));
    flaky.failListAfter = 2;
    const store = new RetryingStore(flaky, { clock: recordingClock() });
    expect((await collect(store.list(""))).map((e) => e.key)).toEqual(["a", "b", "c", "d"]);
    expect(flaky.calls.list).toBe(2);
  });

  it("reports each retry before sleeping", async () => {
    const flaky = new FlakyStore().failNext("delete", transient());
    const events: string[] = [];
    const store = new RetryingStore(flaky, {
      clock: recordingClock(),
      random: () => 0.5,
      policy: { baseDelayMs: 100 },
      onRetry: (e) => events.push(`${e.op} ${e.key} #${e.attempt} ${e.delayMs}ms`),
    });
    await store.delete("locks/prune");
    expect(events).toEqual(["delete locks/prune #1 50ms"]);
  });

  it("wraps a foreign error it will not retry into a LifeboatError naming the key", async () => {
    const flaky = new FlakyStore().failNext("get", new TypeError("boom"));
    const store = new RetryingStore(flaky, { clock: recordingClock() });
    const error = await expectLifeboatError(store.get("k"), "STORE_IO", '"k"');
    expect(error.cause).toBeInstanceOf(TypeError);
  });
});

describe("isRetryable", () => {
  const cases: [string, unknown, boolean][] = [
    ["a transient errno behind a STORE_IO", transient("ECONNRESET"), true],
    ["EAI_AGAIN", Object.assign(new Error(), { code: "EAI_AGAIN" }), true],
    [
      "an explicit retryable hint on STORE_IO",
      Object.assign(new LifeboatError("STORE_IO", "x"), { retryable: true }),
      true,
    ],
    ["an AWS $retryable error", Object.assign(new Error(), { $retryable: { throttling: true } }), true],
    ["a 503", httpError(503), true],
    ["a 429", httpError(429), true],
    ["S3 SlowDown", httpError(503, "SlowDown"), true],
    ["S3 RequestTimeout, a 400 that is transient", httpError(400, "RequestTimeout"), true],
    ["a 404", httpError(404, "NoSuchKey"), false],
    ["a 403", httpError(403, "AccessDenied"), false],
    [
      "a plain STORE_IO (EIO)",
      new LifeboatError("STORE_IO", "x", { cause: Object.assign(new Error(), { code: "EIO" }) }),
      false,
    ],
    [
      "OBJECT_MISSING even with a transient cause",
      new LifeboatError("OBJECT_MISSING", "x", { cause: transient() }),
      false,
    ],
    ["STORE_FULL", new LifeboatError("STORE_FULL", "x"), false],
    ["a string", "ETIMEDOUT", false],
    ["nothing", undefined, false],
  ];
  it.each(cases)("judges %s", (_, error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });
});
