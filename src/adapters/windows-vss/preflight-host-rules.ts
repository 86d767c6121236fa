/**
 * Preflight rules about the host rather than its disks: rights, OS and patches, firmware,
 * virtualisation, time synchronisation, memory, the VSS service and VSS-based backup products that
 * would race the agent for snapshots (../shared/requirements.md, Windows agent).
 */

import type { Inventory, InventoryService } from "./inventory.ts";
import type { Finding } from "./preflight-rules.ts";

const MIN_AVAILABLE_MEMORY = 1 << 30;
const TIME_SYNC_STALE_MS = 7 * 24 * 3600 * 1000;

/** VSS-based backup products the seeds name (and close relatives): they race for VSS. */
const CONFLICTING_PRODUCTS: ReadonlyArray<{ product: string; match: RegExp }> = [
  { product: "Acronis", match: /acronis|\bAcrSch2Svc\b|\bAcronisAgent\b/i },
  { product: "Veeam", match: /veeam/i },
  { product: "Veritas", match: /veritas|backup ?exec|netbackup|\bbpinetd\b/i },
  { product: "Commvault", match: /commvault|\bGxCVD\b|\bGxClMgrS\b/i },
  { product: "Arcserve", match: /arcserve/i },
  { product: "StorageCraft ShadowProtect", match: /shadowprotect|storagecraft/i },
];

export function checkHost(inv: Inventory, add: (f: Finding) => void): void {
  const { host } = inv;
  const [major = 0, minor = 0] = host.os.version.split(".").map(Number);
  if (!host.elevated) {
    add({
      code: "NOT_ADMINISTRATOR",
      severity: "error",
      cause: "the agent does not run with administrator rights",
      remedy: "Run the agent as an administrator (or as LocalSystem, as a service).",
    });
  }
  if (host.os.architecture !== "x64") {
    add({
      code: "OS_UNSUPPORTED",
      severity: "error",
      cause: `the host is ${host.os.architecture}; the agent needs x86-64 Windows`,
      remedy: "Protect this host with an image-level (agentless) method instead.",
    });
  }
  if (major < 6 || (major === 6 && minor < 3)) {
    add({
      code: "OS_UNSUPPORTED",
      severity: "error",
      cause: `Windows ${host.os.version} is older than the agent's runtime (Node.js 20) supports (Windows 8.1 / Server 2012 R2)`,
      remedy: "Upgrade Windows, or protect this host agentlessly through its hypervisor.",
    });
  }
  if (
    major === 6 &&
    (minor === 0 || minor === 1) &&
    !host.hotfixes.some((h) => h.toUpperCase() === "KB4474419")
  ) {
    add({
      code: "HOTFIX_KB4474419_MISSING",
      severity: "error",
      cause: `Windows ${host.os.version} (2008 family) lacks KB4474419 (SHA-2 code signing support)`,
      remedy: "Install KB4474419 and restart before starting the agent.",
    });
  }
  if (host.firmware === "unknown") {
    add({
      code: "FIRMWARE_UNKNOWN",
      severity: "error",
      cause: "the firmware type could not be determined; BIOS or UEFI firmware is required",
      remedy: "Check the host's firmware; run the inventory again as an administrator.",
    });
  } else {
    const boot = inv.disks.find((d) => d.boot);
    const mismatch =
      boot !== undefined &&
      ((host.firmware === "uefi" && boot.partitionStyle !== "gpt") ||
        (host.firmware === "bios" && boot.partitionStyle === "gpt"));
    add({
      code: mismatch ? "FIRMWARE_LAYOUT_MISMATCH" : "FIRMWARE",
      severity: mismatch ? "warning" : "info",
      cause: mismatch
        ? `${host.firmware.toUpperCase()} firmware with a ${boot?.partitionStyle.toUpperCase()} boot disk: the recovery target must boot the same unusual way`
        : `${host.firmware.toUpperCase()} firmware: the recovery target must boot in ${host.firmware.toUpperCase()} mode`,
      remedy: `Create recovery machines with ${host.firmware.toUpperCase()} firmware.`,
    });
  }
  const vendor = host.hypervisor.vendor ?? "";
  const xenDrivers = inv.services.some((s) =>
    /^xen(bus|vbd|vif|svc|agent)|citrix.*(xen|tools)/i.test(`${s.name} ${s.displayName}`),
  );
  if (/xen/i.test(vendor) || xenDrivers) {
    add({
      code: "PARAVIRTUALIZED_HOST",
      severity: "warning",
      cause: `the host runs on Xen${xenDrivers ? " with paravirtualised drivers" : ""}; support for paravirtualised hosts is limited`,
      remedy:
        "Expect to repair boot drivers by hand on the recovery target (remove the Xen PV drivers, enable the storage driver the target uses).",
    });
  }
  checkTime(inv, add);
  if (host.memory.availableBytes < MIN_AVAILABLE_MEMORY) {
    add({
      code: "MEMORY_LOW",
      severity: "warning",
      cause: `${Math.floor(host.memory.availableBytes / 1048576)} MiB of memory available; at least 1 GiB is recommended`,
      remedy: "Free memory or add memory; the agent uses a few hundred MiB while syncing.",
    });
  }
}

function checkTime(inv: Inventory, add: (f: Finding) => void): void {
  const t = inv.host.timeSync;
  if (t.service !== "running") {
    add({
      code: "TIME_SYNC_OFF",
      severity: "error",
      cause: `the Windows Time service is ${t.service}; time synchronisation is required`,
      remedy:
        "Enable and start it (`sc config w32time start= auto`, `net start w32time`) and sync with an Internet or intranet time server (`w32tm /resync`).",
    });
    return;
  }
  const last = t.lastSyncAt === undefined ? undefined : Date.parse(t.lastSyncAt);
  if (last === undefined || Date.parse(inv.collectedAt) - last > TIME_SYNC_STALE_MS) {
    add({
      code: "TIME_SYNC_STALE",
      severity: "warning",
      cause:
        last === undefined
          ? "the clock has never synchronised"
          : `the clock last synchronised on ${t.lastSyncAt}`,
      remedy: "Point w32time at a reachable time server and run `w32tm /resync`.",
    });
  }
}

export function checkServices(services: readonly InventoryService[], add: (f: Finding) => void): void {
  const vss = services.find((s) => s.name.toUpperCase() === "VSS");
  if (vss === undefined || vss.startType === "disabled") {
    add({
      code: "VSS_SERVICE_UNAVAILABLE",
      severity: "error",
      cause:
        vss === undefined
          ? "the Volume Shadow Copy service is missing"
          : "the Volume Shadow Copy service is disabled",
      remedy:
        "Set the VSS service to Manual (`sc config vss start= demand`); check it with `vssadmin list writers`.",
    });
  }
  const seen = new Set<string>();
  for (const s of services) {
    const text = `${s.name} ${s.displayName} ${s.binaryPath ?? ""}`;
    const hit = CONFLICTING_PRODUCTS.find((p) => p.match.test(text));
    if (hit === undefined || seen.has(`${hit.product}:${s.name}`)) continue;
    seen.add(`${hit.product}:${s.name}`);
    const running = s.state === "running" || s.state === "starting";
    add({
      code: "BACKUP_SOFTWARE_CONFLICT",
      severity: running ? "error" : "warning",
      subject: s.name,
      cause: `${hit.product} (service ${s.name}, ${s.state}) also uses VSS; two requesters snapshotting at once make snapshots fail`,
      remedy: `Pause or uninstall ${hit.product} before enabling the agent (or ask whether the platform offers agentless protection).`,
    });
  }
}
