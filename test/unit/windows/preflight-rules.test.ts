import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Inventory, parseInventory } from "../../../src/adapters/windows-vss/inventory.ts";
import {
  evaluateInventory,
  type Finding,
  hasErrors,
  type PreflightContext,
} from "../../../src/adapters/windows-vss/preflight-rules.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";

const dir = new URL("../../fixtures/windows/inventories/", import.meta.url);
const load = (name: string): Inventory =>
  parseInventory(JSON.parse(readFileSync(new URL(name, dir), "utf8")), name);
const clean = () => load("clean-server-2019.json");
const codes = (findings: readonly Finding[], severity?: string) =>
  findings.filter((f) => severity === undefined || f.severity === severity).map((f) => f.code);
const noExclusions: PreflightContext = { excludedDisks: [] };

/** Each example inventory and the findings it must raise (errors and warnings). */
const EXAMPLES: Record<string, ReadonlyArray<readonly [code: string, severity: string]>> = {
  "breaks-disk-count.json": [["DISK_COUNT_EXCEEDED", "error"]],
  "breaks-offline-disk.json": [["DISK_OFFLINE", "error"]],
  "breaks-shared-disk.json": [["DISK_SHARED", "warning"]],
  "breaks-dynamic-mirror.json": [["DYNAMIC_VOLUME_UNSUPPORTED", "error"]],
  "breaks-dynamic-boot-disk.json": [["DYNAMIC_BOOT_DISK", "error"]],
  "breaks-firmware-unknown.json": [["FIRMWARE_UNKNOWN", "error"]],
  "breaks-free-space-critical.json": [["FREE_SPACE_CRITICAL", "error"]],
  "breaks-free-space-low.json": [["FREE_SPACE_LOW", "warning"]],
  "non-ntfs-volume.json": [],
  "breaks-backup-software.json": [
    ["BACKUP_SOFTWARE_CONFLICT", "error"],
    ["BACKUP_SOFTWARE_CONFLICT", "warning"],
  ],
  "breaks-time-sync.json": [["TIME_SYNC_OFF", "error"]],
  "breaks-kb4474419.json": [
    ["OS_UNSUPPORTED", "error"],
    ["HOTFIX_KB4474419_MISSING", "error"],
    ["FIRMWARE_LAYOUT_MISMATCH", "warning"],
  ],
  "breaks-not-administrator.json": [["NOT_ADMINISTRATOR", "error"]],
  "breaks-paravirtualized.json": [["PARAVIRTUALIZED_HOST", "warning"]],
  "breaks-vss-disabled.json": [["VSS_SERVICE_UNAVAILABLE", "error"]],
};

describe("Windows preflight on example inventories", () => {
  it("finds nothing to block or warn about on a clean Server 2019 host, and says what it notes", () => {
    const findings = evaluateInventory(clean(), noExclusions);
    expect(findings.filter((f) => f.severity !== "info")).toEqual([]);
    expect(codes(findings, "info").sort()).toEqual(["FIRMWARE", "NON_NTFS_FULL_CAPACITY"]);
    expect(findings.find((f) => f.code === "NON_NTFS_FULL_CAPACITY")?.cause).toMatch(/FAT32/);
  });

  it("ships an example for every rule it names, and nothing else", () => {
    const files = readdirSync(dir).filter((f) => f !== "clean-server-2019.json");
    expect(files.sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  for (const [file, expected] of Object.entries(EXAMPLES)) {
    it(`${file}: ${expected.map(([c]) => c).join(", ") || "informational only"}`, () => {
      const findings = evaluateInventory(load(file), noExclusions);
      const raised = findings.filter((f) => f.severity !== "info").map((f) => [f.code, f.severity] as const);
      expect(raised.sort()).toEqual([...expected].sort());
      for (const f of findings) {
        expect(f.cause.length, f.code).toBeGreaterThan(10);
        expect(f.remedy.length, f.code).toBeGreaterThan(10);
      }
      expect(hasErrors(findings)).toBe(expected.some(([, s]) => s === "error"));
    });
  }
  it("notes a non-NTFS data volume as synced at full capacity", () => {
    const findings = evaluateInventory(load("non-ntfs-volume.json"), noExclusions);
    expect(
      findings
        .filter((f) => f.code === "NON_NTFS_FULL_CAPACITY")
        .map((f) => f.cause)
        .join("\n"),
    ).toMatch(/exFAT/);
  });
});

describe("Windows preflight rules that depend on the configuration", () => {
  const inv = clean();
  const boot = inv.disks[0]?.id as string;
  const data = inv.disks[1]?.id as string;

  it("refuses to exclude the boot disk", () => {
    expect(codes(evaluateInventory(inv, { excludedDisks: [boot] }), "error")).toEqual(["BOOT_DISK_EXCLUDED"]);
  });

  it("lets an offline disk be excluded", () => {
    const offline = clean();
    (offline.disks[1] as { online: boolean }).online = false;
    expect(hasErrors(evaluateInventory(offline, { excludedDisks: [data] }))).toBe(false);
  });

  it("refuses exclusions changed since registration", () => {
    const findings = evaluateInventory(inv, { excludedDisks: [data], registeredExclusions: [] });
    expect(codes(findings, "error")).toEqual(["EXCLUDED_DISKS_FROZEN"]);
    expect(hasErrors(evaluateInventory(inv, { excludedDisks: [data], registeredExclusions: [data] }))).toBe(
      false,
    );
  });

  it("warns about an excluded disk the host does not have", () => {
    expect(codes(evaluateInventory(inv, { excludedDisks: ["mbr-deadbeef"] }), "warning")).toEqual([
      "EXCLUDED_DISK_UNKNOWN",
    ]);
  });

  it("counts only the disks that would be synced against the limit of 32", () => {
    const many = load("breaks-disk-count.json");
    expect(
      codes(evaluateInventory(many, { excludedDisks: [many.disks[32]?.id as string] }), "error"),
    ).toEqual([]);
  });

  it("ignores free space and file systems of volumes on excluded disks", () => {
    const low = load("breaks-free-space-low.json");
    expect(codes(evaluateInventory(low, { excludedDisks: [data] }), "warning")).toEqual([]);
  });
});

describe("Windows preflight of host facts", () => {
  const variant = (change: (inv: Inventory) => void) => {
    const inv = clean();
    change(inv);
    return evaluateInventory(inv, noExclusions);
  };

  it("warns when the clock has not synchronised for over a week, or never", () => {
    expect(
      codes(
        variant((i) => (i.host.timeSync.lastSyncAt = "2025-02-01T00:00:00.000Z")),
        "warning",
      ),
    ).toEqual(["TIME_SYNC_STALE"]);
    expect(
      codes(
        variant((i) => delete i.host.timeSync.lastSyncAt),
        "warning",
      ),
    ).toEqual(["TIME_SYNC_STALE"]);
  });

  it("warns about low memory, little room for the agent and disks without a stable id", () => {
    expect(
      codes(
        variant((i) => (i.host.memory.availableBytes = 512 * 2 ** 20)),
        "warning",
      ),
    ).toEqual(["MEMORY_LOW"]);
    expect(
      codes(
        variant((i) => ((i.volumes[1] as { freeBytes: number }).freeBytes = 100 * 2 ** 20)),
        "warning",
      ),
    ).toContain("AGENT_SPACE_LOW");
    expect(
      codes(
        variant((i) => ((i.disks[1] as { unstableId: boolean }).unstableId = true)),
        "warning",
      ),
    ).toEqual(["DISK_ID_UNSTABLE"]);
  });

  it("refuses 32-bit Windows and warns when firmware and boot-disk layout disagree", () => {
    expect(
      codes(
        variant((i) => (i.host.os.architecture = "x86")),
        "error",
      ),
    ).toEqual(["OS_UNSUPPORTED"]);
    expect(
      codes(
        variant((i) => (i.host.firmware = "bios")),
        "warning",
      ),
    ).toEqual(["FIRMWARE_LAYOUT_MISMATCH"]);
  });

  it("notes a host without the change-tracking driver", () => {
    expect(
      codes(
        variant((i) => (i.changeTracking.driver = false)),
        "info",
      ),
    ).toContain("CHANGE_TRACKING_DRIVER_MISSING");
  });

  it("refuses an inventory that is not one, naming the field", () => {
    const broken = JSON.parse(readFileSync(new URL("clean-server-2019.json", dir), "utf8")) as {
      disks: Array<{ capacity: unknown }>;
    };
    (broken.disks[0] as { capacity: unknown }).capacity = "big";
    try {
      parseInventory(broken, "broken.json");
      expect.unreachable();
    } catch (e) {
      expect(isLifeboatError(e, "CONFIG_INVALID")).toBe(true);
      expect((e as Error).message).toMatch(/broken\.json: disks\.0\.capacity/);
    }
    expect(() => parseInventory({ schema: "something/2" }, "x.json")).toThrow(/schema/);
  });
});
