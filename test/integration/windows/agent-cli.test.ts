/**
 * `lifeboat agent` end to end, as an operator runs it: the real CLI in a child process, a real
 * repository on disk, a simulated Windows host behind the adapter's native boundary. Each committed
 * point is restored and compared with the simulator's copy of its snapshot by the agent itself
 * ("verified"), and `lifeboat verify` checks the repository afterwards.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";

const env = { LIFEBOAT_PASSWORD: "agent test passphrase" };

interface Row {
  trigger: number;
  outcome: string;
  mode: string | null;
  point?: string;
  warnings: string[];
  faults?: string[];
  error?: { code: string; legacyCode?: number; message: string; remedy: string };
  verified?: boolean;
}

const rows = (stdout: string): Row[] =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Row);

describe("lifeboat agent", () => {
  let dir: string;
  let repo: string;

  const config = async (
    name: string,
    fields: Record<string, unknown>,
    host: Record<string, unknown> = {},
  ) => {
    const path = join(dir, `${name}.json`);
    await writeFile(
      path,
      JSON.stringify({
        source: "web01",
        repo,
        stateDir: join(dir, `state-${name}`),
        cpuLimit: 100,
        intervalSeconds: 60,
        ...fields,
        host: {
          kind: "simulated",
          seed: 11,
          disks: 2,
          diskSize: "16M",
          writeRate: "16K",
          diffArea: "4M",
          ...host,
        },
      }),
    );
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-agent-"));
    repo = join(dir, "repo");
    const init = await lifeboat(["repo", "init", "--repo", repo], env);
    expect(init.code).toBe(0);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses --collect-inventory off Windows with a coded error", async () => {
    const r = await lifeboat(["--json", "agent", "--collect-inventory"], env);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("PLATFORM_UNSUPPORTED");
    expect(r.stderr).toMatch(/needs Windows/);
  });

  it("syncs a host through a VSS abort (154000, retried incrementally) and an unclean reboot (resync), every point exact", async () => {
    const path = await config(
      "e2e",
      {},
      {
        faults: [
          { trigger: 3, kind: "snapshot-abort" },
          { trigger: 5, kind: "unclean-reboot" },
          { trigger: 6, kind: "snapshot-fail" },
        ],
      },
    );
    const r = await lifeboat(["--json", "agent", "--config", path, "--syncs", "7"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = rows(r.stdout);
    expect(out.map((x) => [x.trigger, x.outcome, x.mode])).toEqual([
      [1, "committed", "full"],
      [2, "committed", "incremental"],
      [3, "aborted", "incremental"],
      [4, "committed", "incremental"],
      [5, "committed", "resync"],
      [6, "retryable", null],
      [7, "committed", "incremental"],
    ]);
    const abort = out[2] as Row;
    expect(abort.error).toMatchObject({ code: "SNAPSHOT_ABORTED", legacyCode: 154000 });
    expect(abort.error?.message).toMatch(/VolSnap event 25/);
    expect(abort.error?.remedy).toMatch(/Reduce write I\/O/);
    expect((out[4] as Row).warnings.join("\n")).toMatch(/history was lost \(unclean shutdown\)/);
    expect((out[5] as Row).error).toMatchObject({ code: "SNAPSHOT_FAILED", legacyCode: 153315 });
    expect((out[5] as Row).error?.remedy).toMatch(/Veeam/);
    expect(out.filter((x) => x.outcome === "committed").every((x) => x.verified === true)).toBe(true);

    const verify = await lifeboat(["verify", "--repo", repo, "--full"], env);
    expect(verify.code).toBe(0);
    const points = JSON.parse(
      (await lifeboat(["--json", "points", "--repo", repo, "--source", "web01"], env)).stdout,
    ) as {
      points: Array<{ seq: number; consistency: string }>;
    };
    expect(new Set(points.points.map((p) => p.seq)).size).toBe(5);
    expect(points.points.every((p) => p.consistency === "application")).toBe(true);
  });

  it("freezes EXCLUDE_DISKS at registration and accepts a change only after --reregister", async () => {
    const first = await config("frozen", {});
    expect((await lifeboat(["--json", "agent", "--config", first, "--syncs", "1"], env)).code).toBe(0);
    const inventory = JSON.parse(
      (await lifeboat(["agent", "--config", first, "--collect-inventory"], env)).stdout,
    ) as {
      disks: Array<{ id: string; boot: boolean }>;
    };
    const data = inventory.disks.find((d) => !d.boot)?.id as string;
    const changed = await config("frozen", { excludeDisks: [data] });
    const refused = await lifeboat(["--json", "agent", "--config", changed, "--syncs", "1"], env);
    expect(refused.code).toBe(2);
    expect(errorCode(refused)).toBe("CONFIG_INVALID");
    expect(refused.stderr).toMatch(/frozen at registration/);
    const again = await lifeboat(
      ["--json", "agent", "--config", changed, "--syncs", "1", "--reregister"],
      env,
    );
    expect(again.code).toBe(0);
    expect(rows(again.stdout)[0]?.outcome).toBe("committed");
  });

  it("refuses to register a host whose preflight finds a blocking problem", async () => {
    const path = await config(
      "veeam",
      { source: "web02" },
      {
        services: [
          { name: "VeeamEndpointBackupSvc", displayName: "Veeam Agent for Microsoft Windows", state: 4 },
        ],
      },
    );
    const r = await lifeboat(["--json", "agent", "--config", path, "--syncs", "1"], env);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("PREFLIGHT_FAILED");
    expect(r.stderr).toMatch(/BACKUP_SOFTWARE_CONFLICT/);
  });

  it("names the bad field of a configuration", async () => {
    const path = await config("bad", { cpuLimit: 250 });
    const r = await lifeboat(["--json", "agent", "--config", path], env);
    expect(r.code).toBe(2);
    expect(errorCode(r)).toBe("CONFIG_INVALID");
    expect(r.stderr).toMatch(/cpuLimit/);
  });
});
