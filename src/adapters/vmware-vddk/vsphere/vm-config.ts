/**
 * A VM's `VirtualMachineConfigInfo` (the VM's own config, or a snapshot's point-in-time config)
 * reduced to what backup needs: virtual hardware version, CBT switch, disks with their backings,
 * and the devices that block snapshots. Parsed from vim25 XML exactly as vCenter 5.5–8.0 and vcsim
 * send it; anything that breaks the schema is a coded error naming the property path.
 */

import { replyError, type MoRef, type VimNode } from "../soap/vim-node.ts";

export type DiskMode =
  | "persistent"
  | "nonpersistent"
  | "undoable"
  | "independent_persistent"
  | "independent_nonpersistent"
  | "append";

export interface VmDisk {
  readonly key: number;
  readonly label: string;
  readonly controllerKey: number;
  readonly unitNumber?: number;
  readonly controllerType?: string;
  /** The controller's bus sharing (`noSharing`, `virtualSharing`, `physicalSharing`), SCSI only. */
  readonly controllerSharing?: string;
  readonly capacityBytes: number;
  /** The backing's concrete type (`VirtualDiskFlatVer2BackingInfo`, `VirtualDiskRawDiskMappingVer1BackingInfo`, …). */
  readonly backingType: string;
  /** `[datastore] dir/file.vmdk` — a delta (`-000001.vmdk`) while the VM runs on a snapshot. */
  readonly fileName: string;
  readonly datastore?: MoRef;
  readonly diskMode?: string;
  readonly sharing?: string;
  readonly uuid?: string;
  /** Set only when CBT is on and the disk has been through a stun/unstun since. */
  readonly changeId?: string;
  readonly thinProvisioned?: boolean;
  /** RDM: `physicalMode` or `virtualMode`. */
  readonly compatibilityMode?: string;
  readonly deltaDiskFormat?: string;
  /** The base of a delta chain, outermost first. */
  readonly parents: readonly string[];
}

export interface PassthroughDevice {
  readonly type: string;
  readonly label: string;
}

export interface VmConfig {
  readonly name: string;
  /** `vmx-14`; `vmx-04` cannot track changes. */
  readonly hardwareVersion: string;
  readonly hardwareVersionNumber: number;
  readonly uuid?: string;
  readonly instanceUuid?: string;
  readonly guestId?: string;
  readonly guestFullName?: string;
  readonly template: boolean;
  readonly changeTrackingEnabled: boolean;
  /** `[datastore] dir/vm.vmx`: the VM directory holds snapshot files and vss-manifest.zip. */
  readonly vmPathName?: string;
  /** Set on encrypted VMs (vSphere 6.5+). */
  readonly encrypted: boolean;
  /** `disk.EnableUUID` from extraConfig: Windows 2008+ needs it for application-consistent quiescing. */
  readonly diskEnableUuid: boolean;
  readonly disks: readonly VmDisk[];
  readonly passthrough: readonly PassthroughDevice[];
}

const PASSTHROUGH = new Set(["VirtualUSB", "VirtualPCIPassthrough", "VirtualSriovEthernetCard"]);

export function parseVmConfig(config: VimNode): VmConfig {
  const hardwareVersion = config.str("version");
  const m = /^vmx-(\d+)$/.exec(hardwareVersion);
  if (m === null) throw replyError(`${config.path}.version is ${JSON.stringify(hardwareVersion)}, not vmx-N`);
  const devices = config.child("hardware").many("device");
  const controllers = new Map<number, VimNode>();
  for (const d of devices) controllers.set(d.child("key").int(), d);
  const disks: VmDisk[] = [];
  const passthrough: PassthroughDevice[] = [];
  for (const device of devices) {
    const type = device.xsiType() ?? "VirtualDevice";
    if (type === "VirtualDisk") disks.push(parseDisk(device, controllers));
    else if (PASSTHROUGH.has(type)) passthrough.push({ type, label: label(device) ?? type });
  }
  const files = config.opt("files");
  const optional = {
    uuid: config.optStr("uuid"),
    instanceUuid: config.optStr("instanceUuid"),
    guestId: config.optStr("guestId"),
    guestFullName: config.optStr("guestFullName"),
    vmPathName: files?.optStr("vmPathName"),
  };
  return {
    name: config.str("name"),
    hardwareVersion,
    hardwareVersionNumber: Number(m[1]),
    template: config.optBool("template") ?? false,
    changeTrackingEnabled: config.optBool("changeTrackingEnabled") ?? false,
    encrypted: config.opt("keyId") !== undefined,
    diskEnableUuid: extraConfig(config, "disk.EnableUUID")?.toUpperCase() === "TRUE",
    disks,
    passthrough,
    ...definedOnly(optional),
  };
}

function parseDisk(device: VimNode, controllers: ReadonlyMap<number, VimNode>): VmDisk {
  const key = device.child("key").int();
  const controllerKey = device.child("controllerKey").int();
  const controller = controllers.get(controllerKey);
  const backing = device.child("backing");
  const backingType = backing.xsiType();
  if (backingType === undefined) throw replyError(`${backing.path} has no xsi:type`);
  const bytes = device.optLong("capacityInBytes");
  const kb = device.optLong("capacityInKB");
  // capacityInBytes arrived in API 5.5; older servers (and 5.5-versioned requests) send KB only.
  const capacityBytes = bytes ?? (kb === undefined ? undefined : kb * 1024);
  if (capacityBytes === undefined || capacityBytes < 0) {
    throw replyError(`${device.path} has no capacityInBytes or capacityInKB`);
  }
  const parents: string[] = [];
  for (let p = backing.opt("parent"); p !== undefined; p = p.opt("parent")) {
    parents.push(p.str("fileName"));
    if (parents.length > 255) throw replyError(`${backing.path} has a delta chain deeper than 255`);
  }
  const optional = {
    unitNumber: device.optInt("unitNumber"),
    controllerType: controller?.xsiType(),
    controllerSharing: controller?.optStr("sharedBus"),
    datastore: backing.opt("datastore")?.moref("Datastore"),
    diskMode: backing.optStr("diskMode"),
    sharing: backing.optStr("sharing"),
    uuid: backing.optStr("uuid") || undefined,
    changeId: backing.optStr("changeId") || undefined,
    thinProvisioned: backing.optBool("thinProvisioned"),
    compatibilityMode: backing.optStr("compatibilityMode"),
    deltaDiskFormat: backing.optStr("deltaDiskFormat"),
  };
  return {
    key,
    label: label(device) ?? `disk ${key}`,
    controllerKey,
    capacityBytes,
    backingType,
    fileName: backing.str("fileName"),
    parents,
    ...definedOnly(optional),
  };
}

function extraConfig(config: VimNode, key: string): string | undefined {
  const option = config.many("extraConfig").find((o) => o.optStr("key") === key);
  return option?.opt("value")?.string();
}

function label(device: VimNode): string | undefined {
  return device.opt("deviceInfo")?.optStr("label");
}

/** Drops undefined values so optional properties stay absent (exactOptionalPropertyTypes-friendly). */
export function definedOnly<T extends Record<string, unknown>>(
  o: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Whether a disk is independent (never part of a snapshot, so it cannot be backed up from one). */
export function isIndependent(disk: VmDisk): boolean {
  return disk.diskMode?.startsWith("independent") === true;
}

export function isRdm(disk: VmDisk): boolean {
  return (
    disk.backingType === "VirtualDiskRawDiskMappingVer1BackingInfo" ||
    disk.backingType === "VirtualDiskRawDiskVer2BackingInfo"
  );
}

export function isShared(disk: VmDisk): boolean {
  return (
    disk.sharing === "sharingMultiWriter" ||
    (disk.controllerSharing !== undefined && disk.controllerSharing !== "noSharing")
  );
}
