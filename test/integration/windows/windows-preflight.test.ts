/**
 * Windows preflight as `lifeboat preflight --inventory/--config` runs it: an inventory file
 * collected elsewhere, or an agent configuration whose (simulated) host is inventoried live through
 * the same collection code the agent uses on Windows.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWindowsPreflight } from "../../../src/cli/preflight/windows.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";

const inventory = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/windows/inventories/${name}`, import.meta.url));

describe("Windows preflight", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-win-preflight-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("evaluates an inventory file: source, findings with code, severity, cause and remedy", async () => {
    const report = await runWindowsPreflight({ inventory: inventory("breaks-backup-software.json") });
    expect(report.source).toBe("web01.corp.example");
    expect(report.blocked).toBe(true);
    expect(
      report.findings
        .filter((f) => f.code === "BACKUP_SOFTWARE_CONFLICT")
        .map((f) => f.severity)
        .sort(),
    ).toEqual(["error", "warning"]);
    const clean = await runWindowsPreflight({ inventory: inventory("clean-server-2019.json") });
    expect(clean.blocked).toBe(false);
  });

  it("inventories a configured host live and adds its exclusions", async () => {
    const config = join(dir, "agent.json");
    const write = (fields: object) =>
      writeFile(
        config,
        JSON.stringify({
          source: "web03",
          repo: join(dir, "repo"),
          stateDir: join(dir, "state"),
          host: { kind: "simulated", seed: 5, disks: 3, diskSize: "8M" },
          ...fields,
        }),
      );
    await write({});
    const report = await runWindowsPreflight({ config });
    expect(report.source).toBe("web03");
    expect(report.inventory.disks.length).toBe(3);
    expect(report.inventory.disks.filter((d) => d.boot).length).toBe(1);
    expect(report.inventory.changeTracking.driver).toBe(true);
    expect(report.blocked).toBe(false);
    const boot = report.inventory.disks.find((d) => d.boot)?.id as string;
    await write({ excludeDisks: [boot] });
    expect((await runWindowsPreflight({ config })).findings.map((f) => f.code)).toContain(
      "BOOT_DISK_EXCLUDED",
    );
  });

  it("refuses an unreadable or malformed inventory with CONFIG_INVALID", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ not json");
    await expect(runWindowsPreflight({ inventory: bad })).rejects.toSatisfy((e: unknown) =>
      isLifeboatError(e, "CONFIG_INVALID"),
    );
    await expect(runWindowsPreflight({ inventory: join(dir, "missing.json") })).rejects.toSatisfy(
      (e: unknown) => isLifeboatError(e, "CONFIG_INVALID"),
    );
  });

  it("through the CLI: exit 1 on an error finding, exit 0 on a clean host", async () => {
    const broken = await lifeboat([
      "--json",
      "preflight",
      "--inventory",
      inventory("breaks-offline-disk.json"),
    ]);
    expect(broken.code).toBe(1);
    const report = JSON.parse(broken.stdout) as { source: string; findings: Array<{ code: string }> };
    expect(report.findings.map((f) => f.code)).toContain("DISK_OFFLINE");
    const bad = await lifeboat(["--json", "preflight", "--inventory", join(dir, "nope.json")]);
    expect(errorCode(bad)).toBe("CONFIG_INVALID");
  });
});
