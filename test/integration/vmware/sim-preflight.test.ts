/**
 * `lifeboat preflight --vcenter` against the simulated vCenter: blocking findings exit 1, missing
 * privileges are named, and older API versions and vcsim-style namespace prefixes are understood.
 */

import { afterEach, describe, expect, it } from "vitest";
import { readVmInventory } from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";
import { findVm } from "../../../src/adapters/vmware-vddk/vsphere/vm-lookup.ts";
import { lifeboat } from "../../helpers/cli.ts";
import { PASSWORD, type SimHarness, startSim, THUMBPRINT, USER } from "./sim-harness.ts";

const MiB = 1 << 20;
const env = { LIFEBOAT_VSPHERE_USER: USER, LIFEBOAT_VSPHERE_PASSWORD: PASSWORD };
let sim: SimHarness | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

interface Report {
  findings: { code: string; severity: string; cause: string }[];
  server: { spoken: string };
}

async function preflight(vm: string): Promise<{ code: number; report: Report }> {
  const result = await lifeboat(
    ["preflight", "--vcenter", (sim as SimHarness).url, "--vm", vm, "--thumbprint", THUMBPRINT, "--json"],
    env,
  );
  expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

describe("lifeboat preflight against the simulated vCenter", () => {
  it("exits 1 on blocking findings and names the missing privileges", async () => {
    sim = await startSim({ missingPrivileges: ["VirtualMachine.Config.ChangeTracking", "Datastore.Browse"] });
    sim.world.addVm({ name: "dongle01", usbPassthrough: true, disks: [{ capacity: 4 * MiB }] });
    sim.world.addVm({
      name: "cluster01",
      disks: [
        { capacity: 4 * MiB, sharing: "sharingMultiWriter" },
        { capacity: 4 * MiB, mode: "independent_persistent" },
      ],
    });
    const dongle = await preflight("dongle01");
    expect(dongle.code).toBe(1);
    const codes = dongle.report.findings.map((f) => `${f.severity}:${f.code}`);
    expect(codes).toContain("error:VM_PASSTHROUGH_DEVICE");
    expect(codes).toContain("error:VM_PRIVILEGES_MISSING");
    expect(dongle.report.findings.find((f) => f.code === "VM_PRIVILEGES_MISSING")?.cause).toMatch(
      /ChangeTracking.*Datastore\.Browse/,
    );
    const cluster = await preflight("DC1/vm/cluster01");
    expect(cluster.code).toBe(1);
    expect(cluster.report.findings.map((f) => f.code)).toEqual(
      expect.arrayContaining(["VM_DISK_SHARED", "VM_DISK_INDEPENDENT"]),
    );
  });

  it("speaks an old vCenter's API version and resolves a vcsim-style XMLSchema-instance prefix", async () => {
    sim = await startSim({ apiVersion: "5.1" }, { xsiPrefix: "XMLSchema-instance" });
    sim.world.addVm({ name: "legacy01", hardwareVersion: 8, disks: [{ capacity: 6 * MiB }] });
    const { code, report } = await preflight("legacy01");
    expect(code).toBe(0);
    expect(report.server.spoken).toBe("5.1");
    const client = await sim.connect();
    const vm = await readVmInventory(client, await findVm(client, "legacy01"));
    // API 5.1 has no capacityInBytes and no backing.sharing: capacity comes from capacityInKB.
    expect(vm.config.disks[0]?.capacityBytes).toBe(6 * MiB);
    expect(vm.config.disks[0]?.sharing).toBeUndefined();
    expect(vm.config.hardwareVersion).toBe("vmx-08");
  });
});
