import { describe, expect, it } from "vitest";
import { hasBlockingFinding, vmPreflight } from "../../../src/adapters/vmware-vddk/preflight/vm-preflight.ts";
import { snapshotLabel } from "../../../src/adapters/vmware-vddk/vsphere/snapshot-names.ts";
import type { VmConfig, VmDisk } from "../../../src/adapters/vmware-vddk/vsphere/vm-config.ts";
import type { SnapshotNode, VmInventory } from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";

const DISK: VmDisk = {
  key: 2000,
  label: "Hard disk 1",
  controllerKey: 1000,
  controllerType: "ParaVirtualSCSIController",
  controllerSharing: "noSharing",
  capacityBytes: 40 << 30,
  backingType: "VirtualDiskFlatVer2BackingInfo",
  fileName: "[ds1] web/web.vmdk",
  diskMode: "persistent",
  sharing: "sharingNone",
  uuid: "6000C29a-0000-0000-0000-000000000001",
  parents: [],
};

function vm(config: Partial<VmConfig> = {}, rest: Partial<VmInventory> = {}): VmInventory {
  return {
    ref: { type: "VirtualMachine", value: "vm-1" },
    name: "web",
    config: {
      name: "web",
      hardwareVersion: "vmx-14",
      hardwareVersionNumber: 14,
      template: false,
      changeTrackingEnabled: true,
      encrypted: false,
      diskEnableUuid: true,
      disks: [DISK],
      passthrough: [],
      ...config,
    },
    powerState: "poweredOn",
    connectionState: "connected",
    consolidationNeeded: false,
    changeTrackingSupported: true,
    snapshots: [],
    host: { ref: { type: "HostSystem", value: "host-1" }, version: "7.0.3" },
    toolsRunning: true,
    ...rest,
  };
}

function codes(inventory: VmInventory): string[] {
  return vmPreflight(inventory, { missing: [] }).map((f) => `${f.severity}:${f.code}`);
}

function snapshot(name: string, description = "", children: SnapshotNode[] = []): SnapshotNode {
  return {
    ref: { type: "VirtualMachineSnapshot", value: `snapshot-${name}` },
    name,
    description,
    id: 1,
    createTime: "2024-01-01T00:00:00Z",
    state: "poweredOn",
    quiesced: false,
    children,
  };
}

describe("VM preflight (the seeds' VMware support limits)", () => {
  it("finds nothing on a healthy, tracked, running VM", () => {
    expect(codes(vm())).toEqual([]);
  });

  it("virtual hardware 4 syncs in full only (a warning, not a refusal)", () => {
    expect(codes(vm({ hardwareVersion: "vmx-04", hardwareVersionNumber: 4 }))).toEqual([
      "warning:VM_HW_VERSION_NO_CBT",
    ]);
  });

  it("refuses a disk over 2 TB on ESXi 5.0/5.1 but not on 5.5", () => {
    const big = { ...DISK, capacityBytes: 3 * 1024 ** 4 };
    expect(
      codes(vm({ disks: [big] }, { host: { ref: { type: "HostSystem", value: "h" }, version: "5.1.0" } })),
    ).toEqual(["error:VM_DISK_OVER_2TB"]);
    expect(
      codes(vm({ disks: [big] }, { host: { ref: { type: "HostSystem", value: "h" }, version: "5.5.0" } })),
    ).toEqual([]);
  });

  it("refuses independent disks, physical RDMs and shared disks; warns on virtual RDMs", () => {
    const disks: VmDisk[] = [
      { ...DISK, key: 1, diskMode: "independent_persistent" },
      {
        ...DISK,
        key: 2,
        backingType: "VirtualDiskRawDiskMappingVer1BackingInfo",
        compatibilityMode: "physicalMode",
      },
      {
        ...DISK,
        key: 3,
        backingType: "VirtualDiskRawDiskMappingVer1BackingInfo",
        compatibilityMode: "virtualMode",
      },
      { ...DISK, key: 4, sharing: "sharingMultiWriter" },
      { ...DISK, key: 5, controllerSharing: "physicalSharing" },
    ];
    expect(codes(vm({ disks }))).toEqual([
      "error:VM_DISK_INDEPENDENT",
      "error:VM_DISK_RDM_PHYSICAL",
      "warning:VM_DISK_RDM_VIRTUAL",
      "error:VM_DISK_SHARED",
      "error:VM_DISK_SHARED",
    ]);
  });

  it("refuses VMs with USB or PCI passthrough devices (they cannot be snapshotted)", () => {
    const findings = vmPreflight(
      vm({
        passthrough: [
          { type: "VirtualUSB", label: "USB 1" },
          { type: "VirtualPCIPassthrough", label: "PCI 0" },
        ],
      }),
    );
    expect(findings.map((f) => f.code)).toEqual(["VM_PASSTHROUGH_DEVICE", "VM_PASSTHROUGH_DEVICE"]);
    expect(hasBlockingFinding(findings)).toBe(true);
    expect(findings[0]?.remedy).toMatch(/Remove the passthrough device/);
  });

  it("warns that powered-off and suspended VMs get no incremental", () => {
    expect(codes(vm({}, { powerState: "poweredOff" }))).toEqual(["warning:VM_NOT_POWERED_ON"]);
    expect(codes(vm({}, { powerState: "suspended" }))).toEqual(["warning:VM_NOT_POWERED_ON"]);
  });

  it("warns on long snapshot chains, refuses at vSphere's 32, and tells foreign from stale Lifeboat snapshots", () => {
    const ours = snapshotLabel("0123456789", "p1", new Date(0));
    const three = [snapshot("a", "", [snapshot("b", "", [snapshot(ours.name, ours.description)])])];
    expect(codes(vm({}, { snapshots: three }))).toEqual([
      "warning:VM_MANY_SNAPSHOTS",
      "warning:VM_FOREIGN_SNAPSHOTS",
      "info:VM_STALE_LIFEBOAT_SNAPSHOT",
    ]);
    let chain: SnapshotNode[] = [];
    for (let i = 0; i < 32; i++) chain = [snapshot(`s${i}`, "", chain)];
    expect(codes(vm({}, { snapshots: chain }))).toContain("error:VM_TOO_MANY_SNAPSHOTS");
  });

  it("a user's snapshot named lifeboat-… without Lifeboat's marker counts as foreign", () => {
    expect(codes(vm({}, { snapshots: [snapshot("lifeboat-mine", "before the upgrade")] }))).toEqual([
      "warning:VM_FOREIGN_SNAPSHOTS",
    ]);
  });

  it("notes that CBT gets enabled at the first sync, but not while snapshots exist", () => {
    expect(codes(vm({ changeTrackingEnabled: false }))).toEqual(["info:VM_CBT_DISABLED"]);
    expect(codes(vm({ changeTrackingEnabled: false }, { snapshots: [snapshot("x")] }))).toContain(
      "warning:VM_CBT_WITH_SNAPSHOTS",
    );
  });

  it("reports missing privileges by name, and says so when the server cannot tell", () => {
    const missing = vmPreflight(vm(), {
      missing: ["VirtualMachine.State.CreateSnapshot", "Datastore.Browse"],
    });
    expect(missing).toEqual([
      expect.objectContaining({
        code: "VM_PRIVILEGES_MISSING",
        severity: "error",
        cause: expect.stringContaining("Datastore.Browse"),
      }),
    ]);
    expect(vmPreflight(vm(), { missing: undefined }).map((f) => f.code)).toEqual(["VM_PRIVILEGES_UNKNOWN"]);
  });

  it("flags quiescing limits: Tools not running, Windows without disk.EnableUUID", () => {
    expect(codes(vm({}, { toolsRunning: false }))).toEqual(["warning:VM_TOOLS_NOT_RUNNING"]);
    expect(codes(vm({ guestId: "windows9Server64Guest", diskEnableUuid: false }))).toEqual([
      "warning:VM_DISK_UUID_DISABLED",
    ]);
  });

  it("refuses templates, disconnected VMs and VMs without disks", () => {
    expect(codes(vm({ template: true }))).toContain("error:VM_TEMPLATE");
    expect(codes(vm({}, { connectionState: "inaccessible" }))).toContain("error:VM_NOT_CONNECTED");
    expect(codes(vm({ disks: [] }))).toContain("error:VM_NO_DISKS");
  });
});
