/**
 * Preflight of a Windows host: the seeds' support limits (../shared/requirements.md, Windows
 * agent) as checks over an inventory. Pure: the same inventory always gives the same findings,
 * so every rule is tested with a host that breaks it.
 */

import type { Inventory, InventoryDisk, InventoryVolume } from "./inventory.ts";
import { checkHost, checkServices } from "./preflight-host-rules.ts";

export type Severity = "error" | "warning" | "info";

export interface Finding {
  readonly code: string;
  readonly severity: Severity;
  readonly cause: string;
  readonly remedy: string;
  /** The disk, volume or service the finding is about. */
  readonly subject?: string;
}

export interface PreflightContext {
  /** EXCLUDE_DISKS as configured now. */
  readonly excludedDisks: readonly string[];
  /** EXCLUDE_DISKS frozen at registration, when the host is registered. */
  readonly registeredExclusions?: readonly string[];
}

export const MAX_DISKS = 32;
const FREE_ERROR = 0.03;
const FREE_WARNING = 0.1;
const AGENT_SPACE = 200 * 1024 * 1024;
const SHADOWABLE = new Set(["NTFS", "REFS"]);

export function evaluateInventory(inv: Inventory, context: PreflightContext): Finding[] {
  const findings: Finding[] = [];
  const add = (f: Finding) => findings.push(f);
  const excluded = new Set(context.excludedDisks);
  const synced = inv.disks.filter((d) => !excluded.has(d.id));
  const syncedIds = new Set(synced.map((d) => d.id));
  const onSynced = (v: InventoryVolume) => v.extents.some((e) => syncedIds.has(e.diskId));

  checkExclusions(inv, context, synced, add);
  checkDisks(inv, synced, add);
  for (const v of inv.volumes.filter(onSynced)) checkVolume(v, add);
  checkHost(inv, add);
  checkServices(inv.services, add);
  if (!inv.changeTracking.driver) {
    add({
      code: "CHANGE_TRACKING_DRIVER_MISSING",
      severity: "info",
      cause:
        "no change-tracking driver is installed: every sync re-reads the allocated data and stores only what changed",
      remedy: "Install the Lifeboat tracking driver for incremental syncs that read only changed blocks.",
    });
  }
  return findings;
}

function checkExclusions(
  inv: Inventory,
  context: PreflightContext,
  synced: readonly InventoryDisk[],
  add: (f: Finding) => void,
): void {
  for (const id of context.excludedDisks) {
    const disk = inv.disks.find((d) => d.id === id);
    if (disk === undefined) {
      add({
        code: "EXCLUDED_DISK_UNKNOWN",
        severity: "warning",
        subject: id,
        cause: `EXCLUDE_DISKS names ${id}, which the host does not have`,
        remedy: "Name disks by the ids the inventory lists (gpt-… or mbr-…).",
      });
    } else if (disk.boot) {
      add({
        code: "BOOT_DISK_EXCLUDED",
        severity: "error",
        subject: id,
        cause: `disk ${disk.number} (${id}) holds Windows or its boot loader and cannot be excluded`,
        remedy: "Remove the boot disk from EXCLUDE_DISKS.",
      });
    }
  }
  if (
    context.registeredExclusions !== undefined &&
    !sameSet(context.registeredExclusions, context.excludedDisks)
  ) {
    add({
      code: "EXCLUDED_DISKS_FROZEN",
      severity: "error",
      cause: `EXCLUDE_DISKS changed since registration (registered: [${context.registeredExclusions.join(", ")}], now: [${context.excludedDisks.join(", ")}])`,
      remedy:
        "Restore the registered EXCLUDE_DISKS, or clear the registration (`lifeboat agent --config FILE --reregister`) and register again.",
    });
  }
  if (synced.length === 0) {
    add({
      code: "NO_DISKS_TO_SYNC",
      severity: "error",
      cause: "every disk is excluded (or the host reports none)",
      remedy: "Leave at least the boot disk out of EXCLUDE_DISKS.",
    });
  }
}

function checkDisks(inv: Inventory, synced: readonly InventoryDisk[], add: (f: Finding) => void): void {
  if (synced.length > MAX_DISKS) {
    add({
      code: "DISK_COUNT_EXCEEDED",
      severity: "error",
      cause: `${synced.length} disks would be synced; at most ${MAX_DISKS} are supported`,
      remedy: "Exclude disks that need no protection (EXCLUDE_DISKS) to bring the count to 32 or fewer.",
    });
  }
  for (const d of inv.disks) {
    const name = `disk ${d.number} (${d.id})`;
    const isSynced = synced.includes(d);
    if (!d.online && isSynced) {
      add({
        code: "DISK_OFFLINE",
        severity: "error",
        subject: d.id,
        cause: `${name} is offline; offline disks cannot be synced`,
        remedy:
          "Bring it online (`Set-Disk -Number N -IsOffline $false`), or add it to EXCLUDE_DISKS (excluded disks may stay offline).",
      });
    }
    if (!isSynced) continue;
    if (d.shared) {
      add({
        code: "DISK_SHARED",
        severity: "warning",
        subject: d.id,
        cause: `${name} is a shared (cluster) disk, visible to other hosts`,
        remedy: "Sync it from exactly one host; add it to EXCLUDE_DISKS on every other host.",
      });
    }
    if (d.dynamic && d.boot) {
      add({
        code: "DYNAMIC_BOOT_DISK",
        severity: "error",
        subject: d.id,
        cause: `${name} is a dynamic disk holding Windows or its boot loader; dynamic boot disks are unsupported`,
        remedy: "Convert the boot disk to a basic disk before protecting this host.",
      });
    }
    if (d.unstableId) {
      add({
        code: "DISK_ID_UNSTABLE",
        severity: "warning",
        subject: d.id,
        cause: `${name} has neither an MBR signature nor a GPT disk GUID, so its id follows enumeration order`,
        remedy: "Initialise the disk (give it a signature) so it keeps its identity across reboots.",
      });
    }
  }
}

function checkVolume(v: InventoryVolume, add: (f: Finding) => void): void {
  const name = v.mountPoints[0] ?? v.label ?? v.id;
  const fs = v.fileSystem.toUpperCase();
  if (v.layout === "mirror" || v.layout === "raid5" || v.layout === "striped") {
    add({
      code: "DYNAMIC_VOLUME_UNSUPPORTED",
      severity: "error",
      subject: v.id,
      cause: `volume ${name} is a ${v.layout} dynamic volume; only simple and spanned dynamic volumes are supported`,
      remedy: "Move its data to a simple or spanned volume, or exclude its disks.",
    });
  }
  if (!SHADOWABLE.has(fs)) {
    add({
      code: "NON_NTFS_FULL_CAPACITY",
      severity: "info",
      subject: v.id,
      cause: `volume ${name} is ${v.fileSystem}, not NTFS: it is read at full capacity, live, without a shadow copy`,
      remedy: "Nothing to do; use NTFS for allocation-aware, point-in-time syncs of this data.",
    });
    return;
  }
  if (v.capacity > 0) {
    const ratio = v.freeBytes / v.capacity;
    const pct = `${(ratio * 100).toFixed(1)} %`;
    if (ratio < FREE_ERROR) {
      add({
        code: "FREE_SPACE_CRITICAL",
        severity: "error",
        subject: v.id,
        cause: `volume ${name} has ${pct} free; at least 3 % is required for the snapshot's diff area`,
        remedy:
          "Free space on the volume (10 % or more is recommended), or move its shadow storage to another volume (`vssadmin add shadowstorage`).",
      });
    } else if (ratio < FREE_WARNING) {
      add({
        code: "FREE_SPACE_LOW",
        severity: "warning",
        subject: v.id,
        cause: `volume ${name} has ${pct} free; below 10 % the snapshot may be discarded under heavy writes`,
        remedy:
          "Free space to reach 10 % or more, or move its shadow storage to another volume (`vssadmin add shadowstorage`).",
      });
    }
  }
  if (v.windows && v.freeBytes < AGENT_SPACE) {
    add({
      code: "AGENT_SPACE_LOW",
      severity: "warning",
      subject: v.id,
      cause: `the Windows volume has ${Math.floor(v.freeBytes / 1048576)} MiB free; the agent needs about 200 MiB`,
      remedy: "Free space on the Windows volume.",
    });
  }
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/** Errors block registration and make `lifeboat preflight` exit 1. */
export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === "error");
}
