/**
 * The CBT protocol against the simulated vSphere (constructed from the documented contract: no
 * public recording of QueryChangedDiskAreas exists). Paging, `*`, changeIds and resets.
 */

import { afterEach, describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { queryChangedAreas } from "../../../src/adapters/vmware-vddk/cbt/changed-areas.ts";
import {
  encodeToken,
  parseChangeId,
  resetReason,
} from "../../../src/adapters/vmware-vddk/cbt/change-token.ts";
import { parseVmConfig } from "../../../src/adapters/vmware-vddk/vsphere/vm-config.ts";
import { retrieveOne } from "../../../src/adapters/vmware-vddk/vsphere/property-collector.ts";
import { snapshotLabel } from "../../../src/adapters/vmware-vddk/vsphere/snapshot-names.ts";
import {
  createSyncSnapshot,
  enableChangeTracking,
  removeSnapshot,
} from "../../../src/adapters/vmware-vddk/vsphere/snapshots.ts";
import { readVmInventory } from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";
import type { VimClient } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";
import type { MoRef } from "../../../src/adapters/vmware-vddk/soap/vim-node.ts";
import { pattern, type SimHarness, startSim } from "./sim-harness.ts";

const MiB = 1 << 20;
const KiB64 = 64 * 1024;
let sim: SimHarness | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function snapshotDisk(
  client: VimClient,
  vm: MoRef,
): Promise<{ ref: MoRef; changeId: string | undefined; capacity: number }> {
  const inventory = await readVmInventory(client, vm);
  const snap = await createSyncSnapshot(
    client,
    inventory,
    snapshotLabel("0000000000000000", "p", new Date()),
  );
  const config = parseVmConfig(
    (await retrieveOne(client, snap.ref, ["config"])).props.get("config") as never,
  );
  const disk = config.disks[0];
  return { ref: snap.ref, changeId: disk?.changeId, capacity: disk?.capacityBytes ?? 0 };
}

function blocks(map: BlockMap): number[] {
  return [...map.indexes()];
}

describe("CBT protocol against the simulated vSphere", () => {
  it("enables CBT, reads allocated areas with *, then exactly the changed 64 KiB areas, paging over short windows", async () => {
    sim = await startSim({ windowBytes: 2 * MiB, maxExtents: 2 });
    const vm = sim.world.addVm({ name: "db01", disks: [{ capacity: 16 * MiB }] });
    vm.write(0, 0, pattern(4096, 1));
    vm.write(0, 5 * MiB + 100, pattern(200_000, 2));
    const client = await sim.connect();
    await enableChangeTracking(client, vm.ref);
    const first = await snapshotDisk(client, vm.ref);
    expect(first.changeId).toMatch(/^52( [0-9a-f]{2}){7}-[0-9a-f]{2}( [0-9a-f]{2}){7}\/2$/);
    const allocated = await queryChangedAreas(client, {
      vm: vm.ref,
      snapshot: first.ref,
      deviceKey: 2000,
      capacity: first.capacity,
      changeId: "*",
    });
    expect(blocks(allocated)).toEqual([0, 80, 81, 82, 83]);
    await removeSnapshot(client, first.ref);

    vm.write(0, 3 * MiB, pattern(10, 3)); // one sector-ish write → one 64 KiB area
    vm.write(0, 9 * MiB - 1, pattern(2, 4)); // straddles two areas
    vm.write(0, 15 * MiB, pattern(KiB64, 5));
    const second = await snapshotDisk(client, vm.ref);
    const calls = sim.world.calls.get("QueryChangedDiskAreas") ?? 0;
    const changed = await queryChangedAreas(client, {
      vm: vm.ref,
      snapshot: second.ref,
      deviceKey: 2000,
      capacity: second.capacity,
      changeId: first.changeId as string,
    });
    expect(blocks(changed)).toEqual([48, 143, 144, 240]);
    // 16 MiB in 2 MiB windows: at least 8 calls, so a client that asked once would lose changes.
    expect((sim.world.calls.get("QueryChangedDiskAreas") ?? 0) - calls).toBeGreaterThanOrEqual(8);
    const a = parseChangeId(first.changeId as string);
    const b = parseChangeId(second.changeId as string);
    expect(b?.uuid).toBe(a?.uuid);
    expect((b?.seq ?? 0) > (a?.seq ?? 0)).toBe(true);
    await removeSnapshot(client, second.ref);
  });

  it("answers an unknown changeId with InvalidArgument (changeId), as vCenter does", async () => {
    sim = await startSim();
    const vm = sim.world.addVm({ name: "app", changeTracking: true, disks: [{ capacity: 4 * MiB }] });
    const client = await sim.connect();
    const snap = await snapshotDisk(client, vm.ref);
    await expect(
      queryChangedAreas(client, {
        vm: vm.ref,
        snapshot: snap.ref,
        deviceKey: 2000,
        capacity: snap.capacity,
        changeId: "52 00 00 00 00 00 00 00-00 00 00 00 00 00 00 00/3",
      }),
    ).rejects.toMatchObject({
      faultType: "InvalidArgument",
      message: expect.stringContaining("A specified parameter was not correct: changeId"),
    });
  });

  it("detects every kind of CBT reset from the tokens: resize, new generation, revert, hardware and slot changes", async () => {
    sim = await startSim();
    const vm = sim.world.addVm({ name: "web", changeTracking: true, disks: [{ capacity: 4 * MiB }] });
    const client = await sim.connect();
    const snap = await snapshotDisk(client, vm.ref);
    const base = {
      changeId: snap.changeId as string,
      capacity: snap.capacity,
      hardware: "vmx-14",
      slot: "1000:0",
    };
    const token = encodeToken(base);
    const next = parseChangeId(base.changeId);
    const forward = `${next?.uuid}/${(next?.seq ?? 0) + 2}`;
    expect(resetReason(token, { ...base, changeId: forward })).toBeUndefined();
    expect(resetReason(token, { ...base, changeId: forward, capacity: 8 * MiB })).toMatch(/resized/);
    expect(
      resetReason(token, { ...base, changeId: `52 11 11 11 11 11 11 11-11 11 11 11 11 11 11 11/9` }),
    ).toMatch(/reset/);
    expect(resetReason(token, { ...base, changeId: `${next?.uuid}/${next?.seq}` })).toMatch(/reverted/);
    expect(resetReason(token, { ...base, changeId: forward, hardware: "vmx-19" })).toMatch(/hardware/);
    expect(resetReason(token, { ...base, changeId: forward, slot: "1001:0" })).toMatch(/controller/);
    expect(resetReason("image-token", base)).toMatch(/not a VMware changeId/);
  });

  it("a revert makes the sequence go backwards and the server (6.5+) answers without a fault", async () => {
    sim = await startSim();
    const vm = sim.world.addVm({ name: "erp", changeTracking: true, disks: [{ capacity: 4 * MiB }] });
    const user = vm.createSnapshot("before upgrade", "operator", false);
    vm.write(0, 0, pattern(KiB64, 9));
    const client = await sim.connect();
    const s1 = await snapshotDisk(client, vm.ref);
    await removeSnapshot(client, s1.ref);
    vm.revertTo(user);
    const s2 = await snapshotDisk(client, vm.ref);
    const before = parseChangeId(s1.changeId as string);
    const after = parseChangeId(s2.changeId as string);
    expect(after?.uuid).toBe(before?.uuid);
    expect((after?.seq ?? 0) <= (before?.seq ?? 0)).toBe(true);
    const silent = await queryChangedAreas(client, {
      vm: vm.ref,
      snapshot: s2.ref,
      deviceKey: 2000,
      capacity: s2.capacity,
      changeId: s1.changeId as string,
    });
    expect(silent.isEmpty()).toBe(true); // why the client must not trust a backwards sequence
  });
});
