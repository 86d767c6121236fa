/**
 * The simulated vCenter's methods (other than the PropertyCollector): inventory search, views,
 * reconfiguration, snapshots and QueryChangedDiskAreas, with the fault types and texts real
 * servers use (../shared/fixtures/vsphere/README.md).
 */

import { BlockMap } from "../../../domain/block-map.ts";
import { compareVersions } from "../../vmware-vddk/soap/versions.ts";
import { escapeXml, type XmlElement } from "../../vmware-vddk/soap/xml.ts";
import { changedSince } from "./change-tracking.ts";
import { DATACENTER, type MoRef, type SimSnapshot, type SimVcenter, type SimVm } from "./sim-vcenter.ts";
import { SimFault, type SimTask, startTask } from "./sim-tasks.ts";
import type { ViewStore } from "./sim-properties.ts";
import { el, mo, type VimWriter } from "./vim-writer.ts";

export interface OperationContext {
  readonly world: SimVcenter;
  readonly store: ViewStore;
  readonly w: VimWriter;
  readonly request: XmlElement;
  readonly self: MoRef;
  readonly sessionKey: string;
}

const MAX_SNAPSHOTS = 32;

export function text(request: XmlElement, name: string): string | undefined {
  return request.first(name)?.text;
}

function ref(request: XmlElement, name: string): MoRef | undefined {
  const e = request.first(name);
  return e === undefined ? undefined : { type: e.attribute("type") ?? "", value: e.text };
}

function vmOf(ctx: OperationContext): SimVm {
  const vm = ctx.world.vms.get(ctx.self.value);
  if (vm === undefined || ctx.self.type !== "VirtualMachine") {
    throw new SimFault(
      "ManagedObjectNotFound",
      `The object '${ctx.self.type}:${ctx.self.value}' has already been deleted or has not been completely created`,
    );
  }
  return vm;
}

function task(ctx: OperationContext, name: string, entity: MoRef, action: () => MoRef | undefined): string {
  const t: SimTask = startTask(
    ctx.world.newId("task"),
    name,
    entity,
    ctx.world.options.taskPolls ?? 1,
    action,
  );
  ctx.store.tasks.set(t.ref.value, t);
  return mo("returnval", t.ref);
}

export function findByInventoryPath(ctx: OperationContext): string {
  const path = text(ctx.request, "inventoryPath") ?? "";
  const m = new RegExp(`^${DATACENTER}/vm/(.+)$`).exec(path);
  const vm = m === null ? undefined : [...ctx.world.vms.values()].find((v) => v.name === m[1]);
  return vm === undefined ? "" : mo("returnval", vm.ref);
}

export function findByUuid(ctx: OperationContext): string {
  const uuid = (text(ctx.request, "uuid") ?? "").toLowerCase();
  const instance = text(ctx.request, "instanceUuid") === "true";
  const vm = [...ctx.world.vms.values()].find((v) => (instance ? v.instanceUuid : v.uuid) === uuid);
  return vm === undefined ? "" : mo("returnval", vm.ref);
}

export function createContainerView(ctx: OperationContext): string {
  const id = `session[${ctx.sessionKey}]${ctx.world.uuid("vm")}`;
  ctx.store.views.set(
    id,
    [...ctx.world.vms.values()].map((v) => v.ref),
  );
  return mo("returnval", { type: "ContainerView", value: id });
}

export function reconfigVm(ctx: OperationContext): string {
  const vm = vmOf(ctx);
  const enable = ctx.request.first("spec")?.first("changeTrackingEnabled")?.text;
  return task(ctx, "ReconfigVM_Task", vm.ref, () => {
    if (enable !== undefined) vm.setChangeTracking(enable === "true" || enable === "1");
    return undefined;
  });
}

export function createSnapshot(ctx: OperationContext, ex: boolean): string {
  const vm = vmOf(ctx);
  const name = text(ctx.request, "name") ?? "";
  const description = text(ctx.request, "description") ?? "";
  const quiesce = ex
    ? ctx.request.first("quiesceSpec") !== undefined
    : text(ctx.request, "quiesce") === "true";
  if (ex) {
    const spec = ctx.request.first("quiesceSpec");
    ctx.world.lastQuiesceSpec =
      spec === undefined ? undefined : (spec.xsiType()?.local ?? "VirtualMachineGuestQuiesceSpec");
  }
  return task(ctx, ex ? "CreateSnapshotEx_Task" : "CreateSnapshot_Task", vm.ref, () => {
    if (vm.spec.usbPassthrough === true) {
      throw new SimFault(
        "SnapshotIncompatibleDeviceInVm",
        "Virtual machine is configured to use a device that prevents the snapshot operation: Device '' is a USB passthrough device.",
      );
    }
    if (vm.allSnapshots().length >= MAX_SNAPSHOTS) {
      throw new SimFault("TooManySnapshotLevels", "Exceeded the maximum number of permitted snapshots.");
    }
    if (quiesce && vm.powerState === "poweredOn") {
      if (vm.spec.toolsRunning === false) {
        throw new SimFault(
          "ToolsUnavailable",
          "Cannot complete operation because VMware Tools is not running in this virtual machine.",
        );
      }
      if (vm.spec.quiesce === "fail") {
        throw new SimFault(
          "ApplicationQuiesceFault",
          "An error occurred while quiescing the virtual machine. See the virtual machine's event log for details.",
        );
      }
    }
    return vm.createSnapshot(name, description, quiesce && vm.powerState === "poweredOn").ref;
  });
}

export function removeSnapshot(ctx: OperationContext): string {
  const snapshot = ctx.world.snapshots.get(ctx.self.value);
  const vm = [...ctx.world.vms.values()].find((v) =>
    v.allSnapshots().some((s) => s.ref.value === ctx.self.value),
  );
  if (snapshot === undefined || vm === undefined) {
    throw new SimFault(
      "ManagedObjectNotFound",
      `The object 'vim.vm.Snapshot:${ctx.self.value}' has already been deleted or has not been completely created`,
    );
  }
  return task(ctx, "RemoveSnapshot_Task", vm.ref, () => {
    vm.removeSnapshot(snapshot);
    return undefined;
  });
}

export function hasPrivilegeOnEntity(ctx: OperationContext): string {
  const missing = new Set(ctx.world.options.missingPrivileges ?? []);
  return ctx.request
    .all("privId")
    .map((p) => el("returnval", !missing.has(p.text)))
    .join("");
}

/** QueryChangedDiskAreas, paged over a window and an extent budget, 64 KiB-aligned. */
export function queryChangedDiskAreas(ctx: OperationContext): string {
  const vm = vmOf(ctx);
  const snapRef = ref(ctx.request, "snapshot");
  const key = Number(text(ctx.request, "deviceKey"));
  const start = Number(text(ctx.request, "startOffset"));
  const changeId = text(ctx.request, "changeId") ?? "";
  if (snapRef === undefined && vm.powerState === "poweredOn") {
    throw new SimFault(
      "InvalidArgument",
      "A specified parameter was not correct: snapshot",
      "<invalidProperty>snapshot</invalidProperty>",
    );
  }
  const snapshot: SimSnapshot | undefined =
    snapRef === undefined ? undefined : ctx.world.snapshots.get(snapRef.value);
  if (snapRef !== undefined && snapshot === undefined)
    throw new SimFault("NotFound", "The object or item referred to could not be found.");
  const frozen = snapshot?.disks.get(key);
  const disk = vm.disks.find((d) => d.key === key);
  if (disk === undefined || (snapshot !== undefined && frozen === undefined)) {
    throw new SimFault(
      "InvalidArgument",
      "A specified parameter was not correct: deviceKey",
      "<invalidProperty>deviceKey</invalidProperty>",
    );
  }
  const capacity = frozen?.capacity ?? disk.capacity;
  const tracking = frozen?.tracking ?? disk.tracking.state();
  if (!Number.isSafeInteger(start) || start < 0 || start >= capacity) {
    throw new SimFault(
      "InvalidArgument",
      "A specified parameter was not correct: startOffset",
      "<invalidProperty>startOffset</invalidProperty>",
    );
  }
  let areas: BlockMap;
  if (changeId === "*") {
    areas = frozen?.allocated ?? disk.allocated;
  } else {
    if (!tracking.active) {
      throw new SimFault(
        "FileFault",
        `Error caused by file /vmfs/volumes/${escapeXml(disk.flatPath(frozen?.descriptor ?? disk.descriptor))}`,
        `<file>${escapeXml(frozen?.descriptor ?? disk.descriptor)}</file>`,
      );
    }
    const m = /^(.+)\/(\d+)$/.exec(changeId);
    if (m === null || m[1] !== tracking.uuid) {
      throw new SimFault(
        "InvalidArgument",
        "A specified parameter was not correct: changeId",
        "<invalidProperty>changeId</invalidProperty>",
      );
    }
    // Since vSphere 6.5 an out-of-sequence changeId no longer faults: the answer is just empty.
    areas = changedSince(tracking, Number(m[2]), capacity);
  }
  return `<returnval>${window(ctx.world, areas, start, capacity)}</returnval>`;
}

function window(world: SimVcenter, areas: BlockMap, start: number, capacity: number): string {
  const maxExtents = world.options.maxExtents ?? 2000;
  let length = Math.min(capacity - start, world.options.windowBytes ?? capacity);
  const extents: { start: number; length: number }[] = [];
  for (const e of areas.extents(capacity)) {
    const from = Math.max(e.offset, start);
    const to = Math.min(e.offset + e.length, start + length);
    if (to <= from) continue;
    if (extents.length === maxExtents) {
      const last = extents[extents.length - 1] as { start: number; length: number };
      length = last.start + last.length - start;
      break;
    }
    extents.push({ start: from, length: to - from });
  }
  return `${el("startOffset", start)}${el("length", length)}${extents.map((e) => `<changedArea>${el("start", e.start)}${el("length", e.length)}</changedArea>`).join("")}`;
}

export function versionSupported(world: SimVcenter, version: string): boolean {
  return compareVersions(version, world.apiVersion) <= 0 && compareVersions(version, "4.0") >= 0;
}
