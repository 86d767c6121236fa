/**
 * The VMware support limits (seeds 004/002, requirements.md "VMware agentless") as coded findings,
 * computed from a VM's inventory alone so they are testable on recorded and simulated replies.
 * Severity `error` means Lifeboat refuses to protect the VM until it is fixed; `warning` means it
 * protects it with a visible degradation (full reads, crash consistency); `info` is a heads-up.
 */

import { compareVersions } from "../soap/versions.ts";
import { isIndependent, isRdm, isShared, type VmDisk } from "../vsphere/vm-config.ts";
import { allSnapshots, type VmInventory } from "../vsphere/vm-inventory.ts";
import { isLifeboatSnapshot } from "../vsphere/snapshot-names.ts";

export type Severity = "error" | "warning" | "info";

export interface PreflightFinding {
  readonly code: string;
  readonly severity: Severity;
  readonly cause: string;
  readonly remedy: string;
}

export interface PrivilegeCheck {
  /** Privileges the session lacks, or undefined when the server could not say. */
  readonly missing: readonly string[] | undefined;
}

/** VMware's hard limit on snapshots in one chain; Lifeboat needs one more for itself. */
export const MAX_SNAPSHOT_CHAIN = 32;
/** Beyond this many snapshots VMware warns that VM I/O slows down. */
export const SNAPSHOT_WARNING = 3;
const TWO_TB = 2 * 1024 ** 4 - 512;

export function vmPreflight(vm: VmInventory, privileges?: PrivilegeCheck): PreflightFinding[] {
  const out: PreflightFinding[] = [];
  const add = (code: string, severity: Severity, cause: string, remedy: string): void => {
    out.push({ code, severity, cause, remedy });
  };
  const { config } = vm;

  if (config.template) {
    add(
      "VM_TEMPLATE",
      "error",
      `${vm.name} is a template`,
      "Protect the VMs deployed from it; a template cannot be snapshotted.",
    );
  }
  if (vm.connectionState !== "connected") {
    add(
      "VM_NOT_CONNECTED",
      "error",
      `${vm.name} is ${vm.connectionState} in vCenter`,
      "Reconnect its host or re-register the VM; an orphaned or inaccessible VM cannot be snapshotted.",
    );
  }
  if (config.disks.length === 0) {
    add(
      "VM_NO_DISKS",
      "error",
      `${vm.name} has no virtual disks`,
      "Attach the disks to protect, or remove the VM from the proxy.",
    );
  }

  if (config.hardwareVersionNumber < 7) {
    add(
      "VM_HW_VERSION_NO_CBT",
      "warning",
      `virtual hardware ${config.hardwareVersion} has no changed block tracking: every sync reads whole disks`,
      "Upgrade the VM's compatibility to hardware version 7 or later (power off, Upgrade VM Compatibility).",
    );
  } else if (!vm.changeTrackingSupported) {
    add(
      "VM_CBT_UNSUPPORTED",
      "warning",
      `vSphere reports that ${vm.name} cannot track changed blocks: every sync reads whole disks`,
      "Keep its disks on VMFS, NFS or vSAN datastores and avoid physical RDMs; see VMware KB 1020128.",
    );
  } else if (!config.changeTrackingEnabled) {
    const snapshots = allSnapshots(vm.snapshots).filter((s) => !isLifeboatSnapshot(s)).length;
    if (snapshots > 0) {
      add(
        "VM_CBT_WITH_SNAPSHOTS",
        "warning",
        `changed block tracking is off and ${snapshots} snapshot(s) exist: VMware does not support enabling it now`,
        "Delete the VM's snapshots before the first sync so Lifeboat can enable CBT.",
      );
    } else {
      add(
        "VM_CBT_DISABLED",
        "info",
        "changed block tracking is off; the first sync enables it (ReconfigVM_Task) and reads whole disks",
        "None needed; incrementals start from the second sync.",
      );
    }
  }

  if (vm.powerState !== "poweredOn") {
    add(
      "VM_NOT_POWERED_ON",
      "warning",
      `${vm.name} is ${vm.powerState}: changed block tracking needs a running VM, so syncs resynchronise by content hash`,
      "Protect the VM while it runs; a powered-off VM's disks do not change, so the resyncs store nothing new.",
    );
  }
  if (vm.toolsRunning === false && vm.powerState === "poweredOn") {
    add(
      "VM_TOOLS_NOT_RUNNING",
      "warning",
      "VMware Tools is not running: snapshots cannot be quiesced and are crash-consistent",
      "Install or start VMware Tools in the guest for file-system or application consistency.",
    );
  }
  if ((config.guestId ?? "").startsWith("windows") && !config.diskEnableUuid) {
    add(
      "VM_DISK_UUID_DISABLED",
      "warning",
      "disk.EnableUUID is not TRUE: Windows 2008 and later get file-system, not application, consistency",
      "Power the VM off, add the configuration parameter disk.EnableUUID = TRUE, and power it on.",
    );
  }
  if (config.encrypted) {
    add(
      "VM_ENCRYPTED",
      "warning",
      `${vm.name} is an encrypted VM: some VDDK transports cannot read it`,
      "Use the nbdssl transport and a backup account with Cryptographer.* privileges, or protect it unencrypted.",
    );
  }
  if (vm.consolidationNeeded) {
    add(
      "VM_CONSOLIDATION_NEEDED",
      "warning",
      "vSphere reports that the VM's disks need consolidation (leftover delta disks)",
      "Run Snapshots › Consolidate on the VM before the next sync.",
    );
  }
  for (const device of config.passthrough) {
    add(
      "VM_PASSTHROUGH_DEVICE",
      "error",
      `${device.label} (${device.type}) is passed through: VMs with USB/PCI passthrough devices cannot be snapshotted`,
      "Remove the passthrough device (e.g. a USB dongle: use a USB-over-network hub instead) or protect the guest with the Windows agent.",
    );
  }
  for (const disk of config.disks) diskFindings(disk, vm, add);
  snapshotFindings(vm, add);
  versionFindings(vm, add);

  if (privileges !== undefined) {
    if (privileges.missing === undefined) {
      add(
        "VM_PRIVILEGES_UNKNOWN",
        "warning",
        "the server cannot report the session's privileges (HasPrivilegeOnEntity is unavailable)",
        "Check the backup role by hand: snapshots, changed block tracking, disk reads and Datastore.Browse.",
      );
    } else if (privileges.missing.length > 0) {
      add(
        "VM_PRIVILEGES_MISSING",
        "error",
        `the backup account lacks ${privileges.missing.join(", ")}`,
        "Add the named privileges to the backup account's role on the VM (and Datastore.Browse on its datastores).",
      );
    }
  }
  return out;
}

type Add = (code: string, severity: Severity, cause: string, remedy: string) => void;

function diskFindings(disk: VmDisk, vm: VmInventory, add: Add): void {
  const name = `${disk.label} (${disk.fileName})`;
  if (isIndependent(disk)) {
    add(
      "VM_DISK_INDEPENDENT",
      "error",
      `${name} is ${disk.diskMode}: independent disks are left out of snapshots`,
      "Switch the disk to Dependent mode (Edit Settings › Disk Mode) with the VM powered off.",
    );
  }
  if (isRdm(disk)) {
    if (disk.compatibilityMode === "virtualMode") {
      add(
        "VM_DISK_RDM_VIRTUAL",
        "warning",
        `${name} is a raw device mapping in virtual compatibility mode`,
        "Supported, but the LUN must not be reached by other hosts outside vSphere while it is synced.",
      );
    } else {
      add(
        "VM_DISK_RDM_PHYSICAL",
        "error",
        `${name} is a physical-mode (remote) raw device mapping: it cannot be snapshotted or tracked`,
        "Convert the RDM to a VMDK (Storage vMotion with a disk format change), or protect the guest with the Windows agent.",
      );
    }
  }
  if (isShared(disk)) {
    add(
      "VM_DISK_SHARED",
      "error",
      `${name} is shared (${disk.sharing === "sharingMultiWriter" ? "multi-writer" : `bus sharing ${disk.controllerSharing}`})`,
      "Set the disk non-shared (e.g. scsi1:0.sharing = FALSE, or the controller's SCSI Bus Sharing to None).",
    );
  }
  const hostVersion = vm.host?.version;
  if (hostVersion !== undefined && compareVersions(hostVersion, "5.5") < 0 && disk.capacityBytes > TWO_TB) {
    add(
      "VM_DISK_OVER_2TB",
      "error",
      `${name} is larger than 2 TB and the host runs ESXi ${hostVersion}, which cannot snapshot it`,
      "Move the VM to an ESXi 5.5 or later host, or shrink the disk below 2 TB.",
    );
  }
}

function snapshotFindings(vm: VmInventory, add: Add): void {
  const all = allSnapshots(vm.snapshots);
  const foreign = all.filter((s) => !isLifeboatSnapshot(s));
  const ours = all.length - foreign.length;
  if (all.length >= MAX_SNAPSHOT_CHAIN) {
    add(
      "VM_TOO_MANY_SNAPSHOTS",
      "error",
      `${vm.name} has ${all.length} snapshots; vSphere allows at most ${MAX_SNAPSHOT_CHAIN} in a chain`,
      "Delete old snapshots (Snapshots › Manage) so Lifeboat can take its own.",
    );
  } else if (all.length >= SNAPSHOT_WARNING) {
    add(
      "VM_MANY_SNAPSHOTS",
      "warning",
      `${vm.name} has ${all.length} snapshots: long chains slow the VM and its syncs`,
      "Delete the snapshots that are no longer needed.",
    );
  }
  if (foreign.length > 0) {
    add(
      "VM_FOREIGN_SNAPSHOTS",
      "warning",
      `${foreign.length} snapshot(s) not made by Lifeboat exist (e.g. ${JSON.stringify(foreign[0]?.name)}): another backup product may be using snapshots and CBT on this VM`,
      "Let only one product back up a VM with CBT at a time; their snapshots and CBT resets conflict.",
    );
  }
  if (ours > 0) {
    add(
      "VM_STALE_LIFEBOAT_SNAPSHOT",
      "info",
      `${ours} snapshot(s) left by an interrupted Lifeboat sync exist`,
      "None needed; the next sync removes them.",
    );
  }
}

function versionFindings(vm: VmInventory, add: Add): void {
  const hostVersion = vm.host?.version;
  if (hostVersion !== undefined && /^\d/.test(hostVersion) && compareVersions(hostVersion, "5.0") < 0) {
    add(
      "VM_HOST_UNSUPPORTED",
      "error",
      `the VM runs on ESXi ${hostVersion}; Lifeboat supports ESXi 5.0 to 8.0`,
      "Move the VM to a host running ESXi 5.0 or later.",
    );
  }
}

/** Whether any finding blocks protection. */
export function hasBlockingFinding(findings: readonly PreflightFinding[]): boolean {
  return findings.some((f) => f.severity === "error");
}
