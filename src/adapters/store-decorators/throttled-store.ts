/**
 * Limits what a store may cost the network it sits behind: a bandwidth cap over put and get payload
 * bytes (one token bucket for both directions) and a cap on operations in flight. A backup over a
 * branch office's WAN link must not starve the office.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { Clock } from "../../ports/clock.ts";
import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export interface ThrottledStoreOptions {
  readonly clock: Clock;
  /** Payload bytes per second over puts and gets together; undefined = unlimited. */
  readonly bytesPerSecond?: number;
  /** Bytes that may pass at once after an idle spell; defaults to one second's worth. */
  readonly burstBytes?: number;
  /** Operations in flight at once; undefined = unlimited. */
  readonly maxConcurrency?: number;
}

export class ThrottledStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #bucket: TokenBucket | undefined;
  readonly #slots: Semaphore | undefined;

  constructor(inner: ObjectStore, options: ThrottledStoreOptions) {
    this.#inner = inner;
    const { bytesPerSecond, maxConcurrency } = options;
    if (bytesPerSecond !== undefined) {
      this.#bucket = new TokenBucket(options.clock, bytesPerSecond, options.burstBytes ?? bytesPerSecond);
    }
    if (maxConcurrency !== undefined) this.#slots = new Semaphore(maxConcurrency);
  }

  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    return this.#limited(async () => {
      await this.#bucket?.take(data.length);
      return this.#inner.put(key, data, options);
    });
  }

  /** A get pays for its bytes once they arrive (the size is unknown before), delaying its caller. */
  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#limited(async () => {
      const data = await this.#inner.get(key, range);
      await this.#bucket?.take(data.length);
      return data;
    });
  }

  head(key: string): Promise<{ size: number } | undefined> {
    return this.#limited(() => this.#inner.head(key));
  }

  /**
   * Each page step of a listing takes a slot only while it runs, never while the consumer handles
   * an entry: a consumer that gets objects inside its listing loop would otherwise deadlock at
   * maxConcurrency 1.
   */
  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    const iterator = this.#inner.list(prefix)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const step = await this.#limited(() => iterator.next());
        if (step.done) return;
        yield step.value;
      }
    } finally {
      await iterator.return?.();
    }
  }

  delete(key: string): Promise<void> {
    return this.#limited(() => this.#inner.delete(key));
  }

  async #limited<T>(action: () => Promise<T>): Promise<T> {
    if (this.#slots === undefined) return action();
    await this.#slots.acquire();
    try {
      return await action();
    } finally {
      this.#slots.release();
    }
  }
}

/**
 * A token bucket that lets a request larger than the bucket through by going into debt: the
 * request proceeds once the debt it creates is paid back at the refill rate. Every caller reserves
 * its bytes at once, so concurrent callers queue in arrival order and the long-run rate is exact.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #bytesPerMs: number;
  readonly #capacity: number;
  #tokens: number;
  #updatedAt: number;

  constructor(clock: Clock, bytesPerSecond: number, capacity: number) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new LifeboatError(
        "CONFIG_INVALID",
        `bandwidth limit must be a positive number, got ${bytesPerSecond}`,
      );
    }
    if (!(capacity > 0)) throw new LifeboatError("CONFIG_INVALID", `burst must be positive, got ${capacity}`);
    this.#clock = clock;
    this.#bytesPerMs = bytesPerSecond / 1000;
    this.#capacity = capacity;
    this.#tokens = capacity;
    this.#updatedAt = clock.now();
  }

  /** Resolves when `bytes` may pass. */
  async take(bytes: number): Promise<void> {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#updatedAt) * this.#bytesPerMs);
    this.#updatedAt = now;
    this.#tokens -= bytes;
    if (this.#tokens < 0) await this.#clock.sleep(Math.ceil(-this.#tokens / this.#bytesPerMs));
  }
}

/** A counting semaphore with FIFO wake-up, so no waiter starves. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new LifeboatError(
        "CONFIG_INVALID",
        `concurrency limit must be a positive integer, got ${permits}`,
      );
    }
    this.#free = permits;
  }

  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Hands the permit straight to the oldest waiter, if any, so it cannot be stolen in between. */
  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#free++;
    else next();
  }
}
