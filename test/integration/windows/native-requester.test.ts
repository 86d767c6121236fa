import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { HOST_CXX, ROOT, run, skipReason } from "./toolchain.ts";

interface Scenario {
  scenario: string;
  create: { ok: boolean; step?: string; hresult?: number; cleanupFailures: string[] };
  close?: { ok: boolean; step?: string; cleanupFailures: string[] };
  secondClose?: { ok: boolean; cleanupFailures: string[] };
  devices: string[];
  failedWriters: number;
  openAfterCreate: boolean;
  trace: string[];
}

const skip = skipReason([HOST_CXX]);
const native = join(ROOT, "native", "windows");

/** The calls after the last call of the sequence that ran (the failing one, or the last read). */
function after(trace: readonly string[], call: string): string[] {
  return trace.slice(trace.lastIndexOf(call) + 1);
}

describe.skipIf(skip !== undefined)("the VSS requester sequence driven by a scripted VSS table", () => {
  const scenarios = new Map<string, Scenario>();

  beforeAll(async () => {
    const dir = join(ROOT, ".tmp", "native-windows-test");
    await mkdir(dir, { recursive: true });
    const binary = join(dir, "requester_test");
    const build = run(HOST_CXX, [
      "-std=c++17",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-o",
      binary,
      join(native, "test", "requester_test.cc"),
      join(native, "src", "vss_requester.cc"),
      join(native, "src", "vss_scripted.cc"),
    ]);
    if (build.status !== 0) throw new Error(`host build failed:\n${build.stderr}`);
    const out = run(binary, []);
    for (const line of out.stdout.trim().split("\n")) {
      const s = JSON.parse(line) as Scenario;
      scenarios.set(s.scenario, s);
    }
  }, 120_000);

  it("runs the documented order: initialise, context, state, writers, set, prepare, snapshot, properties", () => {
    const s = scenarios.get("complete") as Scenario;
    expect(s.create.ok).toBe(true);
    expect(s.trace).toEqual([
      "CreateVssBackupComponents",
      "InitializeForBackup",
      "SetContext",
      "SetBackupState",
      "GatherWriterMetadata",
      "FreeWriterMetadata",
      "StartSnapshotSet",
      "AddToSnapshotSet",
      "AddToSnapshotSet",
      "PrepareForBackup",
      "GatherWriterStatus",
      "DoSnapshotSet",
      "GatherWriterStatus",
      "GetSnapshotProperties",
      "GetSnapshotProperties",
      "BackupComplete",
      "DeleteSnapshots",
      "Release",
      "-- session destroyed",
    ]);
    expect(s.devices).toEqual([
      "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1",
      "\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy2",
    ]);
  });

  it("reports the failing step and undoes everything the failed create had acquired, whichever call fails", () => {
    const failing = [...scenarios.values()].filter((s) => s.scenario.startsWith("fail-"));
    expect(failing.length).toBe(12);
    for (const s of failing) {
      const call = s.scenario.slice("fail-".length);
      expect(s.create.ok, s.scenario).toBe(false);
      expect(s.create.hresult, s.scenario).toBe(0x80042316);
      expect(s.openAfterCreate, s.scenario).toBe(false);
      const cleanup = after(s.trace, call).filter((c) => !c.startsWith("--"));
      const setStarted = s.trace.indexOf("StartSnapshotSet") !== -1 && call !== "StartSnapshotSet";
      if (call === "CreateVssBackupComponents") expect(cleanup, s.scenario).toEqual([]);
      else if (setStarted) expect(cleanup, s.scenario).toEqual(["AbortBackup", "DeleteSnapshots", "Release"]);
      else expect(cleanup, s.scenario).toEqual(["Release"]);
      // Nothing is released twice, and the destructor finds nothing left to do.
      expect(s.trace.filter((c) => c === "Release").length, s.scenario).toBe(
        call === "CreateVssBackupComponents" ? 0 : 1,
      );
      expect(s.trace.at(-1), s.scenario).toBe("-- session destroyed");
    }
  });

  it("aborts and deletes when the caller gives up, and when the session is dropped unclosed", () => {
    for (const name of ["abort", "dropped"]) {
      const s = scenarios.get(name) as Scenario;
      const tail = after(s.trace, "GetSnapshotProperties").filter((c) => !c.startsWith("--"));
      expect(tail, name).toEqual(["AbortBackup", "DeleteSnapshots", "Release"]);
      expect(s.trace, name).not.toContain("BackupComplete");
    }
    const dropped = scenarios.get("dropped") as Scenario;
    expect(dropped.trace.indexOf("-- session destroyed")).toBeLessThan(
      dropped.trace.indexOf("DeleteSnapshots"),
    );
  });

  it("still deletes the shadow copies when BackupComplete fails, and reports a failed delete", () => {
    const complete = scenarios.get("backup-complete-fails") as Scenario;
    expect(complete.close).toMatchObject({ ok: false, step: "BackupComplete" });
    expect(after(complete.trace, "BackupComplete").slice(0, 3)).toEqual([
      "AbortBackup",
      "DeleteSnapshots",
      "Release",
    ]);
    const del = scenarios.get("delete-fails") as Scenario;
    expect(del.close?.cleanupFailures).toEqual(["DeleteSnapshots: 0x8004230f"]);
    expect(del.secondClose).toEqual({ ok: true, cleanupFailures: [] });
    expect(del.trace.filter((c) => c === "Release").length).toBe(1);
  });

  it("reports writers that failed at freeze instead of failing the snapshot", () => {
    const s = scenarios.get("writer-failed-at-freeze") as Scenario;
    expect(s.create.ok).toBe(true);
    expect(s.failedWriters).toBe(1);
  });

  it("skips writer metadata and status for a crash-consistent set", () => {
    const s = scenarios.get("no-writers") as Scenario;
    expect(s.trace).not.toContain("GatherWriterMetadata");
    expect(s.trace).not.toContain("GatherWriterStatus");
    expect(s.create.ok).toBe(true);
  });
});
