/**
 * An in-memory StateStore for tests and the simulator. Values go through JSON both ways, exactly as
 * in the file store, so a value that would not survive a restart (a Map, a BigInt, a Date turning
 * into a string) behaves the same here, and callers can never alias stored state.
 */

import type { StateStore } from "../../ports/state-store.ts";
import { assertStateKey, encodeState } from "../state-fs/fs-state-store.ts";

export class MemoryStateStore implements StateStore {
  readonly #values = new Map<string, string>();

  async read<T>(key: string): Promise<T | undefined> {
    assertStateKey(key);
    const text = this.#values.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async write(key: string, value: unknown): Promise<void> {
    assertStateKey(key);
    this.#values.set(key, encodeState(key, value));
  }

  async delete(key: string): Promise<void> {
    assertStateKey(key);
    this.#values.delete(key);
  }

  /** Every stored key, ascending (for test assertions). */
  keys(): string[] {
    return [...this.#values.keys()].sort();
  }
}
