/**
 * `lifeboat proxy` end to end, as an operator runs it: the real CLI in a child process, the
 * simulated vCenter (SOAP over HTTPS, thumbprint pinned) and the stand-in VDDK behind the native
 * addon. Three VMs are protected into an encrypted repository, changed, resized, synced again, and
 * every point is restored bit-exact with `lifeboat restore`.
 */

import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryTarget } from "../../../src/adapters/memory-target/memory-target.ts";
import type { SimVm } from "../../../src/adapters/sim/vsphere/index.ts";
import { FsStore } from "../../../src/adapters/store-fs/fs-store.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { restoreDisk } from "../../../src/engine/restore.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { PASSWORD, pattern, type SimHarness, startSim, TLS, USER } from "./sim-harness.ts";
import { buildVddk, STANDIN_DIR } from "./vddk-harness.ts";

const skipReason = await buildVddk();
if (skipReason !== undefined) console.warn(`SKIPPING the proxy end-to-end test: ${skipReason}`);

const MiB = 1 << 20;
const work = mkdtempSync(join(tmpdir(), "lifeboat-proxy-e2e-"));
const repo = join(work, "repo");
const env = {
  LIFEBOAT_PASSWORD: "correct horse battery staple",
  LIFEBOAT_VSPHERE_USER: USER,
  LIFEBOAT_VSPHERE_PASSWORD: PASSWORD,
};
let sim: SimHarness;
let configFile: string;

interface VmReport {
  source: string;
  outcome: string;
  point?: string;
  mode?: string;
  consistency?: string;
  bytesRead?: number;
  warnings?: string[];
  disks?: { disk: string; mode: string; resetReason?: string }[];
  error?: { code: string; message: string };
}

const BIN = fileURLToPath(new URL("../../../bin/lifeboat.js", import.meta.url));

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function proxyOnce(): Promise<VmReport[]> {
  const result = await lifeboat(["proxy", "--config", configFile, "--once", "--json"], env);
  expect(result.stderr).not.toContain(PASSWORD);
  expect(result.stdout).not.toContain(PASSWORD);
  if (result.code !== 0) throw new Error(`proxy exited ${result.code}: ${result.stdout}\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { vms: VmReport[] }).vms;
}

/** Restores every disk of `point` (in process, as `lifeboat restore` does) and compares each with the VM's disk now. */
async function expectRestoresExactly(vm: SimVm, point: string): Promise<void> {
  const repository = await Repository.open(await FsStore.open(repo), env.LIFEBOAT_PASSWORD);
  const [source, seq] = point.split("@") as [string, string];
  const restorePoint = await repository.readPoint(source, Number(seq));
  expect(restorePoint.disks.map((d) => d.disk).sort()).toEqual(vm.disks.map((d) => d.options.uuid).sort());
  for (const [i, disk] of vm.disks.entries()) {
    const target = new MemoryTarget(disk.capacity);
    await restoreDisk(repository, restorePoint, disk.options.uuid, target, { verify: true });
    const restored = Buffer.from(await target.read(0, disk.capacity));
    expect(Buffer.compare(restored, Buffer.from(vm.content(i))), `${vm.name} disk ${i} at ${point}`).toBe(0);
  }
}

beforeAll(async () => {
  if (skipReason !== undefined) return;
  sim = await startSim({ windowBytes: 4 * MiB, maxExtents: 50, taskPolls: 2 });
  const web = sim.world.addVm({
    name: "web01",
    guestId: "ubuntu64Guest",
    disks: [{ capacity: 24 * MiB }, { capacity: 8 * MiB }],
  });
  const sql = sim.world.addVm({
    name: "sql01",
    guestId: "windows2019srv_64Guest",
    quiesce: "application",
    disks: [{ capacity: 16 * MiB }],
  });
  const files = sim.world.addVm({
    name: "file01",
    guestId: "centos8_64Guest",
    changeTracking: true,
    disks: [{ capacity: 16 * MiB }],
  });
  web.write(0, 0, pattern(3 * MiB, 1));
  web.write(0, 20 * MiB, pattern(MiB + 123, 2));
  web.write(1, 4096, pattern(8192, 3));
  sql.write(0, MiB, pattern(5 * MiB, 4));
  files.write(0, 10 * MiB, pattern(2 * MiB, 5));
  const thumbprint = new X509Certificate(TLS.cert).fingerprint;
  const vddkConf = join(work, "vddk.conf");
  writeFileSync(
    vddkConf,
    `lifeboat.standin.datastoreRoot = ${sim.root}\nlifeboat.standin.thumbprint = ${thumbprint}\nlifeboat.standin.user = ${USER}\n`,
  );
  configFile = join(work, "proxy.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      proxyId: "proxy-e2e",
      repository: repo,
      stateDir: join(work, "state"),
      vcenter: { url: sim.url, thumbprint },
      vddk: { libdir: STANDIN_DIR, configFile: vddkConf, transports: "hotadd:nbdssl:nbd" },
      concurrency: 2,
      vms: [{ vm: "web01" }, { vm: "sql01" }, { vm: `DC1/vm/file01`, name: "file01" }],
    }),
  );
  const init = await lifeboat(["repo", "init", "--repo", repo], env);
  expect(init.code, init.stderr).toBe(0);
});

afterAll(async () => {
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skipReason !== undefined)(
  "lifeboat proxy with the simulated vSphere and the stand-in VDDK",
  () => {
    it("protects three VMs, then syncs changes incrementally and a resized disk by resync; every point restores bit-exact", async () => {
      const first = await proxyOnce();
      expect(first.map((v) => [v.source, v.outcome, v.mode])).toEqual([
        ["web01", "committed", "full"],
        ["sql01", "committed", "full"],
        ["file01", "committed", "full"],
      ]);
      expect(first.find((v) => v.source === "sql01")?.consistency).toBe("application");
      expect(first.find((v) => v.source === "web01")?.consistency).toBe("filesystem");
      // The full sync of web01 read only what CBT's "*" reported allocated, not 32 MiB.
      expect(first[0]?.bytesRead).toBeLessThan(6 * MiB);
      const [web, sql, files] = ["web01", "sql01", "file01"].map((n) => sim.world.vm(n)) as [
        SimVm,
        SimVm,
        SimVm,
      ];
      for (const vm of [web, sql, files]) expect(vm.allSnapshots()).toEqual([]);
      await expectRestoresExactly(web, first[0]?.point as string);
      await expectRestoresExactly(sql, first[1]?.point as string);
      await expectRestoresExactly(files, first[2]?.point as string);

      web.write(0, 7 * MiB + 17, pattern(100_000, 6)); // newly allocated space
      web.write(0, MiB + 4096, pattern(20_000, 9)); // an overwrite only CBT knows about
      sql.write(0, 15 * MiB, pattern(MiB, 7));
      sql.write(0, 2 * MiB, pattern(512, 10));
      files.resizeDisk(0, 20 * MiB);
      files.write(0, 18 * MiB, pattern(MiB, 8));

      const second = await proxyOnce();
      expect(second.map((v) => [v.source, v.mode])).toEqual([
        ["web01", "incremental"],
        ["sql01", "incremental"],
        ["file01", "resync"],
      ]);
      expect(second[0]?.bytesRead).toBeLessThanOrEqual(4 * 64 * 1024);
      expect(second[2]?.disks?.[0]?.resetReason).toMatch(/capacity changed|resized/);
      expect(second[2]?.warnings?.join("\n")).toMatch(/resynchronising by content hash/);
      await expectRestoresExactly(web, second[0]?.point as string);
      await expectRestoresExactly(sql, second[1]?.point as string);
      await expectRestoresExactly(files, second[2]?.point as string);

      const third = await proxyOnce();
      expect(third.map((v) => v.mode)).toEqual(["incremental", "incremental", "incremental"]);
      expect(third.every((v) => (v.bytesRead ?? 1) === 0)).toBe(true);
      for (const vm of [web, sql, files]) expect(vm.allSnapshots()).toEqual([]);

      // And the operator's way back: `lifeboat restore` of the resized disk, verified.
      const to = join(work, "file01.img");
      const restored = await lifeboat(
        ["restore", "--repo", repo, "--point", third[2]?.point as string, "--to", to, "--verify", "--json"],
        env,
      );
      expect(restored.code, restored.stderr).toBe(0);
      expect(Buffer.compare(readFileSync(to), Buffer.from(files.content(0)))).toBe(0);
    });

    it("runs as a daemon with a status and metrics endpoint, and stops cleanly on SIGTERM", async () => {
      const base = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
      const daemonConfig = join(work, "daemon.json");
      writeFileSync(daemonConfig, JSON.stringify({ ...base, statusListen: "127.0.0.1:0", everyMinutes: 60 }));
      const child = spawn(process.execPath, [BIN, "proxy", "--config", daemonConfig], {
        env: { ...process.env, ...env, LIFEBOAT_LOG_LEVEL: "warn" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        const address = await waitFor(() => /status on http:\/\/([\d.:]+)\/status/.exec(stderr)?.[1], 20_000);
        const status = await waitFor(async () => {
          const body = (await (await fetch(`http://${address}/status`)).json()) as {
            sources: { name: string; runs: number; lastSuccessAt?: number; state: string }[];
          };
          return body.sources.every((s) => s.lastSuccessAt !== undefined && s.state === "idle")
            ? body
            : undefined;
        }, 30_000);
        expect(status.sources.map((s) => s.name)).toEqual(["web01", "sql01", "file01"]);
        const metrics = await (await fetch(`http://${address}/metrics`)).text();
        expect(metrics).toMatch(
          /lifeboat_proxy_syncs_total\{source="web01",outcome="committed",mode="incremental"\} 1/,
        );
        expect(metrics).toMatch(/lifeboat_proxy_last_success_timestamp_seconds\{source="sql01"\}/);
        expect(metrics + JSON.stringify(status)).not.toContain(PASSWORD);
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited, stderr).toBe(0);
      for (const name of ["web01", "sql01", "file01"]) expect(sim.world.vm(name).allSnapshots()).toEqual([]);
    });

    it("refuses a configuration with more than 100 VMs or an unpinned self-signed vCenter, with coded errors", async () => {
      const many = join(work, "many.json");
      const base = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
      writeFileSync(
        many,
        JSON.stringify({ ...base, vms: Array.from({ length: 101 }, (_, i) => ({ vm: `vm${i}` })) }),
      );
      const tooMany = await lifeboat(["proxy", "--config", many, "--once", "--json"], env);
      expect(tooMany.code).toBe(2);
      expect(errorCode(tooMany)).toBe("CONFIG_INVALID");
      const unpinned = join(work, "unpinned.json");
      writeFileSync(unpinned, JSON.stringify({ ...base, vcenter: { url: sim.url } }));
      const refused = await lifeboat(["proxy", "--config", unpinned, "--once", "--json"], env);
      expect(refused.code).toBe(2);
      expect(errorCode(refused)).toBe("VSPHERE_TLS_UNTRUSTED");
    });
  },
);
