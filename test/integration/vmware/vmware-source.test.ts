/**
 * VmwareSource through the real sync engine (syncOnce) against the simulated vSphere and the
 * stand-in VDDK: the degradations and failures an operator must see — reverts, vMotions during
 * reads, snapshots removed behind our back, quiescing that fails, stale snapshots of a crashed
 * proxy, expired sessions, blocking preflight findings. Every committed point is restored and
 * compared with the VM's disks.
 */

import { X509Certificate } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemoryTarget } from "../../../src/adapters/memory-target/memory-target.ts";
import type { SimVm, SimVmSpec } from "../../../src/adapters/sim/vsphere/index.ts";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { systemClock } from "../../../src/adapters/system/system-clock.ts";
import type { VimClient } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";
import { snapshotLabel } from "../../../src/adapters/vmware-vddk/vsphere/snapshot-names.ts";
import { VmwareSource } from "../../../src/adapters/vmware-vddk/vmware-source.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { restoreDisk } from "../../../src/engine/restore.ts";
import type { SyncResult } from "../../../src/engine/sync-job.ts";
import { syncOnce } from "../../../src/engine/sync-runner.ts";
import { silentLog } from "../../../src/ports/log.ts";
import type { Source, SourceSnapshot } from "../../../src/ports/source.ts";
import { PASSWORD, pattern, type SimHarness, startSim, TLS, USER } from "./sim-harness.ts";
import { buildVddk, STANDIN_DIR } from "./vddk-harness.ts";

const skipReason = await buildVddk();
if (skipReason !== undefined) console.warn(`SKIPPING the VmwareSource tests: ${skipReason}`);

const MiB = 1 << 20;
let sim: SimHarness;
let client: VimClient;
let repo: Repository;
let vddkConf: string;

beforeAll(async () => {
  if (skipReason !== undefined) return;
  sim = await startSim({ windowBytes: 2 * MiB, taskPolls: 1 });
  vddkConf = join(sim.root, "vddk.conf");
  // One VDDK initialisation per process: every test shares this stand-in configuration.
  writeFileSync(
    vddkConf,
    `lifeboat.standin.datastoreRoot = ${sim.root}\nlifeboat.standin.thumbprint = ${new X509Certificate(TLS.cert).fingerprint}\n`,
  );
  client = await sim.connect();
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  if (skipReason !== undefined) return;
  repo = await Repository.init(new MemoryStore(), { encryption: "none", chunkSize: 64 * 1024 });
  rmSync(join(sim.root, ".standin-faults"), { force: true });
});

function source(vm: SimVm, extra: Partial<ConstructorParameters<typeof VmwareSource>[0]> = {}): VmwareSource {
  return new VmwareSource({
    client,
    vm: vm.name,
    name: vm.name,
    proxyId: "proxy-test",
    credentials: { user: USER, password: PASSWORD },
    vddk: { library: STANDIN_DIR, configFile: vddkConf, transports: "nbdssl" },
    log: silentLog,
    readRetryDelayMs: 1,
    ...extra,
  });
}

function addVm(spec: Partial<SimVmSpec> & { name: string }): SimVm {
  const vm = sim.world.addVm({ disks: [{ capacity: 8 * MiB }], guestId: "ubuntu64Guest", ...spec });
  vm.write(0, 0, pattern(MiB, spec.name.length));
  vm.write(0, 5 * MiB, pattern(300_000, 99));
  return vm;
}

async function sync(s: Source): Promise<SyncResult> {
  return syncOnce({ repo, source: s, clock: systemClock, log: silentLog });
}

async function expectRestores(vm: SimVm, result: SyncResult): Promise<void> {
  const point = await repo.readPoint(result.point.source, result.point.seq);
  for (const [i, disk] of vm.disks.entries()) {
    const target = new MemoryTarget(disk.capacity);
    await restoreDisk(repo, point, disk.options.uuid, target);
    expect(Buffer.compare(Buffer.from(await target.read(0, disk.capacity)), Buffer.from(vm.content(i)))).toBe(
      0,
    );
  }
}

describe.skipIf(skipReason !== undefined)("VmwareSource through the sync engine", () => {
  it("resyncs after a revert to an older snapshot (the changeId sequence goes backwards) and restores the reverted content", async () => {
    const vm = addVm({ name: "revert01", changeTracking: true });
    const user = vm.createSnapshot("before patch", "operator", false);
    vm.write(0, 0, pattern(64 * 1024, 33)); // overwrites data the snapshot holds: a revert brings it back
    vm.write(0, 2 * MiB, pattern(MiB, 3));
    const s = source(vm);
    expect((await sync(s)).mode).toBe("full");
    vm.write(0, 3 * MiB, pattern(4096, 4));
    vm.write(0, 2 * MiB + 512, pattern(4096, 12));
    const incremental = await sync(s);
    expect(incremental.mode).toBe("incremental");
    await expectRestores(vm, incremental);
    vm.revertTo(user);
    const after = await sync(s);
    expect(after.mode).toBe("resync");
    expect(after.warnings.join("\n")).toMatch(/reverted/);
    await expectRestores(vm, after);
    expect(vm.allSnapshots().map((x) => x.name)).toEqual(["before patch"]);
  });

  it("retries reads broken by a DRS vMotion and commits a whole point", async () => {
    const vm = addVm({ name: "vmotion01", changeTracking: true });
    vm.migrate({ breakReads: 2 });
    const result = await sync(source(vm));
    expect(result.mode).toBe("full");
    await expectRestores(vm, result);
  });

  it("a Storage vMotion resets CBT: the next sync resyncs, and says why", async () => {
    const vm = addVm({ name: "svmotion01", changeTracking: true });
    const s = source(vm);
    await sync(s);
    vm.migrate({ storage: true });
    vm.write(0, 6 * MiB, pattern(10_000, 5));
    const result = await sync(s);
    expect(result.mode).toBe("resync");
    expect(result.warnings.join("\n")).toMatch(/change tracking was reset/);
    await expectRestores(vm, result);
  });

  it("aborts without committing when the snapshot is removed behind its back, and the next sync succeeds", async () => {
    const vm = addVm({ name: "abort01", changeTracking: true });
    const inner = source(vm);
    let reads = 0;
    const sabotaged: Source = {
      name: inner.name,
      describe: () => inner.describe(),
      openSnapshot: async (disks): Promise<SourceSnapshot> => {
        const snap = await inner.openSnapshot(disks);
        return {
          id: snap.id,
          takenAt: snap.takenAt,
          consistency: snap.consistency,
          disks: snap.disks,
          warnings: snap.warnings,
          allocation: (disk) => snap.allocation(disk),
          changes: (disk, since) => snap.changes(disk, since),
          token: (disk) => snap.token(disk),
          read: async (disk: string, offset: number, length: number) => {
            if (++reads === 2) {
              // Someone deletes the snapshot in vCenter mid-transfer; its NFC session dies with it.
              const current = vm.current;
              if (current !== undefined) vm.removeSnapshot(current);
              writeFileSync(join(sim.root, ".standin-faults"), `read abort01/ 0 100\n`);
            }
            return snap.read(disk, offset, length);
          },
          release: () => snap.release(),
          abortReason: () => snap.abortReason(),
        };
      },
    };
    await expect(sync(sabotaged)).rejects.toMatchObject({ code: "SNAPSHOT_ABORTED" });
    expect(await repo.latestPoint(vm.name)).toBeUndefined();
    rmSync(join(sim.root, ".standin-faults"), { force: true });
    const retry = await sync(inner);
    expect(retry.mode).toBe("full");
    await expectRestores(vm, retry);
    expect(vm.allSnapshots()).toEqual([]);
  });

  it("falls back to a crash-consistent snapshot when quiescing fails, and says so", async () => {
    const vm = addVm({
      name: "quiesce01",
      guestId: "windows2019srv_64Guest",
      quiesce: "fail",
      changeTracking: true,
    });
    const result = await sync(source(vm));
    expect(result.point.consistency).toBe("crash");
    expect(result.warnings.join("\n")).toMatch(/crash-consistent/);
    expect(sim.world.lastQuiesceSpec).toBe("VirtualMachineWindowsQuiesceSpec");
    await expectRestores(vm, result);
  });

  it("records file-system consistency when VSS quiesced without writers", async () => {
    const vm = addVm({ name: "fsq01", guestId: "windows9Server64Guest", quiesce: "filesystem" });
    const result = await sync(source(vm));
    expect(result.point.consistency).toBe("filesystem");
  });

  it("removes the stale snapshot a crashed proxy left, keeps the others', and warns about them", async () => {
    const vm = addVm({ name: "stale01", changeTracking: true });
    const ours = snapshotLabel("deadbeefdeadbeef", "proxy-test", new Date(0));
    const theirs = snapshotLabel("cafecafecafecafe", "proxy-other", new Date(0));
    vm.createSnapshot(ours.name, ours.description, false);
    vm.createSnapshot(theirs.name, theirs.description, false);
    const result = await sync(source(vm));
    expect(vm.allSnapshots().map((s) => s.name)).toEqual([theirs.name]);
    expect(result.warnings.join("\n")).toMatch(/other proxies \(proxy-other\)/);
    await expectRestores(vm, result);
  });

  it("logs in again when vCenter dropped the session between syncs", async () => {
    const vm = addVm({ name: "session01", changeTracking: true });
    const s = source(vm);
    await sync(s);
    sim.world.expireSessions();
    vm.write(0, 7 * MiB, pattern(1000, 7));
    vm.write(0, 100, pattern(1000, 11)); // overwrites allocated data: only CBT reports it
    const result = await sync(s);
    expect(result.mode).toBe("incremental");
    await expectRestores(vm, result);
  });

  it("refuses a VM with a USB passthrough device (PREFLIGHT_FAILED) before taking any snapshot", async () => {
    const vm = addVm({ name: "usb01", usbPassthrough: true });
    await expect(sync(source(vm))).rejects.toMatchObject({
      code: "PREFLIGHT_FAILED",
      message: expect.stringContaining("VM_PASSTHROUGH_DEVICE"),
    });
    expect(vm.allSnapshots()).toEqual([]);
  });

  it("syncs a VM whose CBT cannot be enabled (a foreign snapshot) by content hash, with a warning", async () => {
    const vm = addVm({ name: "nocbt01" });
    vm.createSnapshot("backup-product-x", "another tool", false);
    const s = source(vm);
    const first = await sync(s);
    expect(first.warnings.join("\n")).toMatch(/cannot be enabled while snapshots exist/);
    vm.write(0, 4 * MiB, pattern(5000, 8));
    const second = await sync(s);
    expect(second.mode).toBe("resync");
    await expectRestores(vm, second);
  });
});
