/**
 * The simulated vCenter's world: VMs with file-backed disks on one datastore, snapshot trees,
 * change tracking, tasks, sessions, privileges and injectable faults. Tests drive the guests
 * (writes), the operators (user snapshots, reverts, resizes) and the infrastructure (vMotion,
 * expired sessions) directly; the SOAP server (sim-server.ts) exposes the vSphere side.
 */

import { Prng } from "../prng.ts";
import { vmwareUuid } from "./change-tracking.ts";
import type { FaultSpec, SimSnapshot, SimVcenterOptions, SimVmSpec } from "./sim-types.ts";
import { SimVm } from "./sim-vm.ts";

export * from "./sim-types.ts";
export { SimVm } from "./sim-vm.ts";

export class SimVcenter {
  readonly vms = new Map<string, SimVm>();
  readonly snapshots = new Map<string, SimSnapshot>();
  readonly hosts = ["host-11", "host-12"];
  readonly calls = new Map<string, number>();
  /** The quiesce spec type the last CreateSnapshotEx_Task carried (for tests). */
  lastQuiesceSpec: string | undefined;
  readonly apiVersion: string;
  readonly options: SimVcenterOptions;
  readonly prng: Prng;
  #nextId = 100;
  #faults = new Map<string, FaultSpec[]>();
  #sessionEpoch = 0;

  constructor(options: SimVcenterOptions) {
    this.options = options;
    this.apiVersion = options.apiVersion ?? "7.0.3.0";
    this.prng = new Prng(options.seed ?? 1).fork("vsphere");
  }

  get sessionEpoch(): number {
    return this.#sessionEpoch;
  }

  newId(prefix: string): string {
    return `${prefix}-${this.#nextId++}`;
  }

  uuid(kind: "cbt" | "disk" | "vm"): string {
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 16; i += 4) new DataView(bytes.buffer).setUint32(i, this.prng.u32());
    if (kind === "cbt") {
      bytes[0] = 0x52;
      return vmwareUuid(bytes);
    }
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
    const prefix = kind === "disk" ? "6000c29" + hex.slice(7, 8) : hex.slice(0, 8);
    return `${prefix}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }

  addVm(spec: SimVmSpec): SimVm {
    const vm = new SimVm(this, spec);
    this.vms.set(vm.ref.value, vm);
    return vm;
  }

  vm(name: string): SimVm {
    const vm = [...this.vms.values()].find((v) => v.name === name);
    if (vm === undefined) throw new Error(`no simulated VM ${name}`);
    return vm;
  }

  /** Makes the next `times` calls of `operation` fail with `fault`. */
  injectFault(operation: string, fault: FaultSpec, times = 1): void {
    const list = this.#faults.get(operation) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.#faults.set(operation, list);
  }

  takeFault(operation: string): FaultSpec | undefined {
    return this.#faults.get(operation)?.shift();
  }

  /** Drops every session, as vCenter does after ~30 idle minutes. */
  expireSessions(): void {
    this.#sessionEpoch++;
  }

  count(operation: string): void {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
  }
}
