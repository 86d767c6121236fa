/**
 * Sync snapshots: create one as consistent as the VM allows, remove it on every path, and clean
 * up what a crashed proxy left behind.
 *
 * Creation tries, in order: `CreateSnapshotEx_Task` with a quiesce spec (API 6.5+, VMware Tools
 * 10.1+; Windows guests get VSS_BT_COPY so application logs are never truncated by us),
 * `CreateSnapshot_Task` with quiesce, and finally a crash-consistent snapshot — each fallback is a
 * warning in the job result, never silent.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import { isVimFault } from "../soap/envelope.ts";
import { subtype } from "../soap/soap-binding.ts";
import type { VimClient } from "../soap/vim-client.ts";
import type { MoRef } from "../soap/vim-node.ts";
import { atLeast } from "../soap/versions.ts";
import { isLifeboatSnapshot, type SnapshotLabel, snapshotProxy } from "./snapshot-names.ts";
import { runTask, type TaskWait } from "./tasks.ts";
import { allSnapshots, type VmInventory } from "./vm-inventory.ts";

/** VSS_BT_COPY: a copy backup leaves the guest applications' own backup history and logs alone. */
const VSS_BT_COPY = 5;
const QUIESCE_TIMEOUT_MINUTES = 15;
/** Faults that no retry without quiescing can fix. */
const FATAL = [
  "NoPermission",
  "NotAuthenticated",
  "TooManySnapshotLevels",
  "InvalidPowerState",
  "ManagedObjectNotFound",
];

export interface CreatedSnapshot {
  readonly ref: MoRef;
  readonly quiesced: boolean;
  readonly method: "CreateSnapshotEx_Task" | "CreateSnapshot_Task";
  readonly warnings: readonly string[];
}

export async function createSyncSnapshot(
  client: VimClient,
  vm: VmInventory,
  label: SnapshotLabel,
  wait: TaskWait = {},
): Promise<CreatedSnapshot> {
  const warnings: string[] = [];
  const base = { name: label.name, description: label.description, memory: false };
  const running = vm.powerState === "poweredOn";
  if (running && vm.toolsRunning !== false) {
    if (atLeast(client.version, "6.5")) {
      try {
        const ref = await snapshotTask(
          client,
          vm,
          "CreateSnapshotEx_Task",
          { ...base, quiesceSpec: quiesceSpec(vm) },
          wait,
        );
        return { ref, quiesced: true, method: "CreateSnapshotEx_Task", warnings };
      } catch (e) {
        if (isVimFault(e, ...FATAL)) throw e;
        if (!isVimFault(e, "MethodNotFound", "NotSupported", "NotImplemented", "InvalidRequest")) {
          warnings.push(
            `CreateSnapshotEx_Task with a ${guestKind(vm)} quiesce spec failed (${describe(e)}); retrying with CreateSnapshot_Task`,
          );
        }
      }
    }
    try {
      const ref = await snapshotTask(client, vm, "CreateSnapshot_Task", { ...base, quiesce: true }, wait);
      return { ref, quiesced: true, method: "CreateSnapshot_Task", warnings };
    } catch (e) {
      if (isVimFault(e, ...FATAL)) throw e;
      warnings.push(`quiescing ${vm.name} failed (${describe(e)}): this point is crash-consistent only`);
    }
  } else if (running) {
    warnings.push(`VMware Tools is not running in ${vm.name}: this point is crash-consistent only`);
  }
  const ref = await snapshotTask(client, vm, "CreateSnapshot_Task", { ...base, quiesce: false }, wait);
  return { ref, quiesced: false, method: "CreateSnapshot_Task", warnings };
}

async function snapshotTask(
  client: VimClient,
  vm: VmInventory,
  operation: string,
  args: Record<string, unknown>,
  wait: TaskWait,
): Promise<MoRef> {
  const result = await runTask(client, operation, vm.ref, args, wait);
  if (result === undefined)
    throw new LifeboatError("VSPHERE_REPLY_INVALID", `${operation} finished without a snapshot`);
  return result.moref("VirtualMachineSnapshot");
}

function quiesceSpec(vm: VmInventory): Record<string, unknown> {
  if (guestKind(vm) === "Windows") {
    return {
      attributes: subtype("VirtualMachineWindowsQuiesceSpec"),
      timeout: QUIESCE_TIMEOUT_MINUTES,
      vssBackupType: VSS_BT_COPY,
      vssBootableSystemState: true,
      vssPartialFileSupport: false,
      vssBackupContext: "ctx_auto",
    };
  }
  return { timeout: QUIESCE_TIMEOUT_MINUTES };
}

function guestKind(vm: VmInventory): "Windows" | "guest" {
  return (vm.config.guestId ?? "").toLowerCase().startsWith("win") ? "Windows" : "guest";
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Removes a snapshot (consolidating its delta into the base); a snapshot already gone is fine. */
export async function removeSnapshot(
  client: VimClient,
  ref: MoRef,
  wait: TaskWait = {},
): Promise<"removed" | "gone"> {
  try {
    await runTask(client, "RemoveSnapshot_Task", ref, { removeChildren: false, consolidate: true }, wait);
    return "removed";
  } catch (e) {
    if (isVimFault(e, "ManagedObjectNotFound", "NotFound")) return "gone";
    throw e;
  }
}

/** Removes Lifeboat snapshots this proxy left behind (a crash between create and remove). */
export async function removeStaleSnapshots(
  client: VimClient,
  vm: VmInventory,
  proxyId: string,
  wait: TaskWait = {},
): Promise<MoRef[]> {
  const stale = allSnapshots(vm.snapshots).filter(
    (s) => isLifeboatSnapshot(s) && snapshotProxy(s.description) === proxyId,
  );
  const removed: MoRef[] = [];
  for (const s of stale) {
    await removeSnapshot(client, s.ref, wait);
    client.log.warn(
      { vm: vm.name, snapshot: s.ref.value, name: s.name },
      "removed a stale Lifeboat snapshot",
    );
    removed.push(s.ref);
  }
  return removed;
}

/** Turns changed block tracking on; it starts tracking at the next stun (our snapshot). */
export async function enableChangeTracking(client: VimClient, vm: MoRef, wait: TaskWait = {}): Promise<void> {
  await runTask(client, "ReconfigVM_Task", vm, { spec: { changeTrackingEnabled: true } }, wait);
}
