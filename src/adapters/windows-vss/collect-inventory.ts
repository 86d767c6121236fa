/**
 * Builds the inventory (inventory.ts) from the host, through the native boundary: disks and
 * volumes as the adapter discovers them, host facts, services, time synchronisation, hotfixes and
 * whether a change-tracking driver answers on each disk.
 */

import { FilterDriverTracker } from "./filter-tracker.ts";
import { discoverHost } from "./host-model.ts";
import { INVENTORY_SCHEMA, type Inventory, InventorySchema } from "./inventory.ts";
import type { ServiceFacts, WindowsNative } from "./native.ts";
import { isBootDisk } from "./windows-source.ts";

const SERVICE_STATES = [
  "unknown",
  "stopped",
  "starting",
  "stopping",
  "running",
  "running",
  "paused",
  "paused",
] as const;
const START_TYPES = ["boot", "system", "auto", "manual", "disabled"] as const;
const ARCHITECTURES: Record<number, Inventory["host"]["os"]["architecture"]> = {
  9: "x64",
  0: "x86",
  12: "arm64",
};
const PRODUCT_TYPES = { 1: "workstation", 2: "domain-controller", 3: "server" } as const;

export async function collectInventory(native: WindowsNative): Promise<Inventory> {
  const host = await discoverHost(native);
  const facts = native.hostFacts();
  const byNumber = new Map(host.disks.map((d) => [d.number, d.id] as const));
  let driver = host.disks.length > 0;
  for (const disk of host.disks) {
    const device = native.openDevice(disk.path, { access: "read" });
    try {
      driver &&= (await FilterDriverTracker.probe(device, disk.capacity)) !== undefined;
    } finally {
      device.close();
    }
  }
  const time = await native.timeSync();
  const os = facts.os;
  const inventory: Inventory = {
    schema: INVENTORY_SCHEMA,
    collectedAt: new Date(native.now()).toISOString(),
    host: {
      name: facts.hostName ?? "unknown",
      os: {
        version: os === null ? "0.0" : `${os.major}.${os.minor}.${os.build}`,
        productType: os === null ? "server" : (PRODUCT_TYPES[os.productType as 1 | 2 | 3] ?? "server"),
        architecture: ARCHITECTURES[facts.processorArchitecture] ?? "unknown",
      },
      firmware: facts.firmware,
      elevated: facts.elevated === true,
      memory: { totalBytes: facts.totalMemory ?? 0, availableBytes: facts.availableMemory ?? 0 },
      codePage: { ansi: facts.ansiCodePage, oem: facts.oemCodePage },
      hypervisor: facts.hypervisor,
      hotfixes: await native.hotfixes(),
      timeSync: {
        service: time.service,
        ...(time.lastSyncAt === undefined ? {} : { lastSyncAt: new Date(time.lastSyncAt).toISOString() }),
        ...(time.source === undefined ? {} : { source: time.source }),
      },
    },
    services: native.services().map(service),
    changeTracking: { driver },
    disks: host.disks.map((d) => ({
      id: d.id,
      number: d.number,
      capacity: d.capacity,
      sectorSize: d.sectorSize,
      partitionStyle: d.layout.style,
      online: !d.offline,
      readOnly: d.readOnly,
      shared: d.shared,
      dynamic: d.dynamic,
      boot: isBootDisk(d, host),
      unstableId: !d.stableId,
      partitions: d.layout.partitions.map((p) => ({
        number: p.number,
        offset: p.startingOffset,
        length: p.length,
        type: p.gpt?.type ?? `0x${(p.mbr?.type ?? 0).toString(16).padStart(2, "0")}`,
        ...(p.gpt?.name === undefined ? {} : { name: p.gpt.name }),
        ...(p.mbr === undefined ? {} : { active: p.mbr.bootIndicator }),
      })),
    })),
    volumes: host.volumes.map((v) => ({
      id: v.guidPath,
      mountPoints: [...v.mountPoints],
      ...(v.label === undefined ? {} : { label: v.label }),
      fileSystem: v.fileSystem,
      capacity: v.totalBytes ?? v.length,
      freeBytes: v.freeBytes ?? 0,
      ...(v.clusterSize === undefined ? {} : { clusterSize: v.clusterSize }),
      layout: v.layout,
      extents: v.extents.map((e) => ({
        diskId: byNumber.get(e.diskNumber) ?? `disk-${e.diskNumber}`,
        offset: e.startingOffset,
        length: e.length,
      })),
      windows: v.windowsVolume,
    })),
  };
  // What we emit must be what `preflight --inventory` accepts.
  return InventorySchema.parse(inventory);
}

function service(s: ServiceFacts): Inventory["services"][number] {
  return {
    name: s.name,
    displayName: s.displayName,
    state: SERVICE_STATES[s.state] ?? "unknown",
    startType: s.startType === undefined ? "unknown" : (START_TYPES[s.startType] ?? "unknown"),
    ...(s.binaryPath === undefined ? {} : { binaryPath: s.binaryPath }),
  };
}
