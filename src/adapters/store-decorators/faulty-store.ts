/**
 * An ObjectStore that fails on command (kopia's FaultyStorage): the fuzzer, the simulator and the S3
 * tests decide per operation whether it fails before touching the inner store (a 5xx, SlowDown, a
 * timeout, ENOSPC, a process dying mid-request) or after it (the write landed but the reply was
 * lost — the case that makes create-only commits and read-back necessary).
 */

import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export type StoreOp = "put" | "get" | "head" | "list" | "delete";

export interface StoreFault {
  /** `before`: the operation never reaches the store; `after`: it completes, then reports `error`. */
  readonly when: "before" | "after";
  readonly error: unknown;
  /** Runs before the error is thrown (e.g. leave a torn temp file behind, as a dying writer would). */
  readonly sideEffect?: (key: string, data?: Uint8Array) => Promise<void>;
}

export type FaultDecider = (op: StoreOp, key: string) => StoreFault | undefined;

export class FaultyStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    readonly decide: FaultDecider,
  ) {}

  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    return this.#run("put", key, () => this.inner.put(key, data, options), data);
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#run("get", key, () => this.inner.get(key, range));
  }

  head(key: string): Promise<{ size: number } | undefined> {
    return this.#run("head", key, () => this.inner.head(key));
  }

  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    const fault = this.decide("list", prefix);
    if (fault !== undefined) {
      await fault.sideEffect?.(prefix);
      if (fault.when === "before") throw fault.error;
    }
    yield* this.inner.list(prefix);
    if (fault !== undefined) throw fault.error;
  }

  delete(key: string): Promise<void> {
    return this.#run("delete", key, () => this.inner.delete(key));
  }

  async #run<T>(op: StoreOp, key: string, operation: () => Promise<T>, data?: Uint8Array): Promise<T> {
    const fault = this.decide(op, key);
    if (fault === undefined) return operation();
    if (fault.when === "before") {
      await fault.sideEffect?.(key, data);
      throw fault.error;
    }
    await operation();
    await fault.sideEffect?.(key, data);
    throw fault.error;
  }
}
