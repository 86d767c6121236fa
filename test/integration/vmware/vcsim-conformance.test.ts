/**
 * Conformance against an independent vSphere implementation: govmomi's simulator (vcsim), built
 * and started by the harness. QueryChangedDiskAreas does not exist there, so the CBT protocol is
 * covered by the simulated vSphere instead (sim-vsphere.test.ts).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vmPreflight } from "../../../src/adapters/vmware-vddk/preflight/vm-preflight.ts";
import { VimClient } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";
import { missingPrivileges } from "../../../src/adapters/vmware-vddk/vsphere/privileges.ts";
import {
  isLifeboatSnapshot,
  snapshotLabel,
} from "../../../src/adapters/vmware-vddk/vsphere/snapshot-names.ts";
import {
  createSyncSnapshot,
  enableChangeTracking,
  removeSnapshot,
  removeStaleSnapshots,
} from "../../../src/adapters/vmware-vddk/vsphere/snapshots.ts";
import { runTask } from "../../../src/adapters/vmware-vddk/vsphere/tasks.ts";
import { allSnapshots, readVmInventory } from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";
import { findVm } from "../../../src/adapters/vmware-vddk/vsphere/vm-lookup.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { startVcsim, type Vcsim } from "../../peers/vcsim/vcsim.ts";

// Started at collection time so that a peer that cannot run skips the suite loudly, never silently.
const started = await startVcsim();
const vcsim: Vcsim | undefined = typeof started === "string" ? undefined : started;
const skipReason = typeof started === "string" ? started : undefined;
if (skipReason !== undefined) console.warn(`SKIPPING the vcsim conformance suite: ${skipReason}`);
let client: VimClient;

beforeAll(async () => {
  if (vcsim === undefined) return;
  client = await VimClient.connect(vcsim.url, {
    credentials: { user: vcsim.user, password: vcsim.password },
    thumbprint: vcsim.thumbprint,
  });
});

afterAll(async () => {
  await client?.close();
  await vcsim?.stop();
});

function env(): Record<string, string> {
  const v = vcsim as Vcsim;
  return { LIFEBOAT_VSPHERE_USER: v.user, LIFEBOAT_VSPHERE_PASSWORD: v.password };
}

describe.skipIf(skipReason !== undefined)("vSphere client against govmomi's simulator", () => {
  it("negotiates API 6.5 and finds a VM by name, inventory path, instance UUID and moref alike", async () => {
    expect(client.version).toBe("6.5");
    const byName = await findVm(client, "DC0_H0_VM0");
    expect(byName).toEqual({ type: "VirtualMachine", value: "vm-57" });
    expect(await findVm(client, "DC0/vm/DC0_H0_VM0")).toEqual(byName);
    expect(await findVm(client, "moref=vm-57")).toEqual(byName);
    const inv = await readVmInventory(client, byName);
    expect(await findVm(client, inv.config.instanceUuid ?? "")).toEqual(byName);
    await expect(findVm(client, "no-such-vm")).rejects.toMatchObject({ code: "VM_NOT_FOUND" });
  });

  it("reads the per-VM inventory: hardware, power, disks, CBT state, host version", async () => {
    const inv = await readVmInventory(client, await findVm(client, "DC0_H0_VM1"));
    expect(inv.config.hardwareVersion).toMatch(/^vmx-\d+$/);
    expect(inv.powerState).toBe("poweredOn");
    expect(inv.changeTrackingSupported).toBe(true);
    expect(inv.config.disks).toHaveLength(1);
    expect(inv.config.disks[0]?.fileName).toMatch(/^\[LocalDS_0\] DC0_H0_VM1\//);
    expect(inv.config.disks[0]?.controllerType).toBe("ParaVirtualSCSIController");
    expect(inv.host?.version).toBe("6.5.0");
    expect(await missingPrivileges(client, inv.ref, [])).toEqual([]);
  });

  it("`lifeboat preflight --vcenter --vm --json` reports the VM's findings and exits 0 when none blocks", async () => {
    const v = vcsim as Vcsim;
    const result = await lifeboat(
      ["preflight", "--vcenter", v.url, "--vm", "DC0_C0_RP0_VM0", "--thumbprint", v.thumbprint, "--json"],
      env(),
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      source: string;
      findings: { code: string; severity: string }[];
    };
    expect(report.source).toBe("DC0_C0_RP0_VM0");
    expect(report.findings.map((f) => f.code)).toContain("VM_CBT_DISABLED");
    expect(report.findings.every((f) => f.severity !== "error")).toBe(true);
    expect(result.stdout + result.stderr).not.toContain(v.password);
  });

  it("preflight refuses a wrong password (exit 2, VSPHERE_LOGIN_FAILED) and an unpinned self-signed certificate", async () => {
    const v = vcsim as Vcsim;
    const bad = await lifeboat(
      ["preflight", "--vcenter", v.url, "--vm", "DC0_H0_VM0", "--thumbprint", v.thumbprint, "--json"],
      {
        ...env(),
        LIFEBOAT_VSPHERE_PASSWORD: "wrong",
      },
    );
    expect(bad.code).toBe(2);
    expect(errorCode(bad)).toBe("VSPHERE_LOGIN_FAILED");
    const unpinned = await lifeboat(["preflight", "--vcenter", v.url, "--vm", "DC0_H0_VM0", "--json"], env());
    expect(unpinned.code).toBe(2);
    expect(errorCode(unpinned)).toBe("VSPHERE_TLS_UNTRUSTED");
    expect(unpinned.stderr).toContain(v.thumbprint);
  });

  it("enables changed block tracking with ReconfigVM_Task", async () => {
    const ref = await findVm(client, "DC0_C0_RP0_VM1");
    expect((await readVmInventory(client, ref)).config.changeTrackingEnabled).toBe(false);
    await enableChangeTracking(client, ref);
    const after = await readVmInventory(client, ref);
    expect(after.config.changeTrackingEnabled).toBe(true);
    expect(vmPreflight(after).map((f) => f.code)).not.toContain("VM_CBT_DISABLED");
  });

  it("creates a quiesced sync snapshot (falling back from CreateSnapshotEx_Task, absent here) and removes it", async () => {
    const ref = await findVm(client, "DC0_H0_VM0");
    const inv = { ...(await readVmInventory(client, ref)), toolsRunning: true };
    const label = snapshotLabel("0123456789abcdef", "proxy-a", new Date());
    const snap = await createSyncSnapshot(client, inv, label);
    expect(snap.method).toBe("CreateSnapshot_Task");
    expect(snap.quiesced).toBe(true);
    // vcsim answers CreateSnapshotEx_Task with MethodNotFound: a missing method is no degradation.
    expect(snap.warnings).toEqual([]);
    const tree = allSnapshots((await readVmInventory(client, ref)).snapshots);
    const node = tree.find((s) => s.ref.value === snap.ref.value);
    expect(node?.name).toBe(label.name);
    expect(node?.quiesced).toBe(true);
    expect(node && isLifeboatSnapshot(node)).toBe(true);
    expect(await removeSnapshot(client, snap.ref)).toBe("removed");
    expect(allSnapshots((await readVmInventory(client, ref)).snapshots)).toEqual([]);
    expect(await removeSnapshot(client, snap.ref)).toBe("gone");
  });

  it("takes a crash-consistent snapshot with a warning when VMware Tools is not running", async () => {
    const ref = await findVm(client, "DC0_H0_VM1");
    const inv = await readVmInventory(client, ref);
    expect(inv.toolsRunning).toBe(false);
    const snap = await createSyncSnapshot(
      client,
      inv,
      snapshotLabel("feedfacecafebeef", "proxy-a", new Date()),
    );
    expect(snap.quiesced).toBe(false);
    expect(snap.warnings.join()).toMatch(/crash-consistent/);
    await removeSnapshot(client, snap.ref);
  });

  it("removes only its own stale snapshots, never a user's or another proxy's", async () => {
    const ref = await findVm(client, "DC0_C0_RP0_VM0");
    const inv = await readVmInventory(client, ref);
    await createSyncSnapshot(client, inv, snapshotLabel("aaaaaaaa00000000", "proxy-a", new Date()));
    await createSyncSnapshot(client, inv, snapshotLabel("bbbbbbbb00000000", "proxy-b", new Date()));
    await runTask(client, "CreateSnapshot_Task", ref, {
      name: "lifeboat-mine",
      description: "an operator's own",
      memory: false,
      quiesce: false,
    });
    const before = await readVmInventory(client, ref);
    expect(allSnapshots(before.snapshots)).toHaveLength(3);
    expect(vmPreflight(before).map((f) => f.code)).toEqual(
      expect.arrayContaining(["VM_MANY_SNAPSHOTS", "VM_FOREIGN_SNAPSHOTS", "VM_STALE_LIFEBOAT_SNAPSHOT"]),
    );
    const removed = await removeStaleSnapshots(client, before, "proxy-a");
    expect(removed).toHaveLength(1);
    const left = allSnapshots((await readVmInventory(client, ref)).snapshots)
      .map((s) => s.name)
      .sort();
    expect(left).toEqual(["lifeboat-bbbbbbbb", "lifeboat-mine"]);
  });
});
