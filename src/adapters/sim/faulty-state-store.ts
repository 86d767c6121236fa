import type { StateStore } from "../../ports/state-store.ts";
import type { FaultInjector } from "./fault-injector.ts";

/** Local state whose writes can die before or after they land, as a process killed mid-write would. */
export class FaultyStateStore implements StateStore {
  constructor(
    readonly inner: StateStore,
    readonly faults: FaultInjector,
  ) {}

  read<T>(key: string): Promise<T | undefined> {
    return this.inner.read<T>(key);
  }

  async write(key: string, value: unknown): Promise<void> {
    const fault = this.faults.stateFault(key);
    if (fault?.when === "before") throw fault.error;
    await this.inner.write(key, value);
    if (fault !== undefined) throw fault.error;
  }

  async delete(key: string): Promise<void> {
    const fault = this.faults.stateFault(key);
    if (fault?.when === "before") throw fault.error;
    await this.inner.delete(key);
    if (fault !== undefined) throw fault.error;
  }
}
