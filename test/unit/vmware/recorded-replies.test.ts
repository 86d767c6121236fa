import { describe, expect, it } from "vitest";
import { readReply, VimFaultError } from "../../../src/adapters/vmware-vddk/soap/envelope.ts";
import { parseServiceContent } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";
import { chooseVersion, listedVersions } from "../../../src/adapters/vmware-vddk/soap/versions.ts";
import { parseObjectContent } from "../../../src/adapters/vmware-vddk/vsphere/property-collector.ts";
import { isRdm, isShared, parseVmConfig } from "../../../src/adapters/vmware-vddk/vsphere/vm-config.ts";
import {
  decodeVimName,
  parseSnapshotTree,
  parseVmInventory,
} from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";
import { bare, fixture, operationOf, propertyValue, recordedResponses, response } from "./fixtures.ts";

describe("every recorded vSphere reply (vCenter 5.5–8.0.3, ESXi 6.0, govmomi)", () => {
  const files = recordedResponses();

  it("covers the whole recorded set", () => {
    expect(files.length).toBeGreaterThanOrEqual(45);
  });

  it.each(files)("%s parses to a response or a coded fault", (path) => {
    if (path.startsWith("govmomi/")) {
      const root = bare(path);
      for (const content of root.many("returnval"))
        expect(parseObjectContent(content).obj.value).not.toBe("");
      return;
    }
    if (path.includes("vimServiceVersions")) {
      expect(chooseVersion(listedVersions(fixture(path)))).toMatch(/^\d+\.\d+/);
      return;
    }
    const op = operationOf(path);
    if (path.includes("-fault-")) {
      expect(() => readReply(fixture(path), op, 500)).toThrow(VimFaultError);
      return;
    }
    const node = response(path);
    expect(node.el.local).toBe(`${op}Response`);
    // Each typed reader the adapter applies to this kind of reply must accept it.
    if (op === "RetrieveServiceContent") expect(parseServiceContent(node).about.apiVersion).toMatch(/^\d/);
    if (op === "Login") expect(node.child("returnval").str("key")).toMatch(/^52/);
    if (op === "RetrievePropertiesEx") {
      for (const o of node.child("returnval").many("objects")) parseObjectContent(o);
    }
    if (path.includes(".config-response")) {
      const config = op === "Fetch" ? node.child("returnval") : propertyValue(path);
      expect(parseVmConfig(config).disks.length).toBeGreaterThan(0);
    }
  });
});

describe("version negotiation from vimServiceVersions.xml", () => {
  it("picks the newest dotted version on vCenter 8.0.3, whose current version is an opaque id", () => {
    const listed = listedVersions(fixture("xml/vimServiceVersions-response-1.xml"));
    expect(listed[0]).toBe("uA046D008");
    expect(chooseVersion(listed)).toBe("8.0.2.0");
  });

  it("speaks 6.7 to vCenter 6.7 and 5.5 to vCenter 5.5 (ignoring urn:vim2 and 2.5u2)", () => {
    expect(chooseVersion(listedVersions(fixture("xml/vimServiceVersions-response-2.xml")))).toBe("6.7");
    const old = listedVersions(fixture("xml/vimServiceVersions-response-3.xml"));
    expect(old).toContain("2.5u2");
    expect(old).not.toContain("2.0");
    expect(chooseVersion(old)).toBe("5.5");
  });

  it("refuses a server older than API 4.0 with a coded error", () => {
    expect(() => chooseVersion(["2.5u2", "2.5"])).toThrow(
      expect.objectContaining({ code: "VSPHERE_VERSION_UNSUPPORTED" }),
    );
  });
});

describe("service content and sessions", () => {
  it("reads vCenter and standalone ESXi service content alike", () => {
    const vc = parseServiceContent(response("xml/RetrieveServiceContent-response-1.xml"));
    expect(vc.about.apiType).toBe("VirtualCenter");
    expect(vc.about.apiVersion).toBe("8.0.2.0");
    expect(vc.propertyCollector).toEqual({ type: "PropertyCollector", value: "propertyCollector" });
    const esx = parseServiceContent(response("xml/RetrieveServiceContent-response-4.xml"));
    expect(esx.about.apiType).toBe("HostAgent");
    expect(esx.rootFolder.value).toBe("ha-folder-root");
    expect(esx.propertyCollector.value).toBe("ha-property-collector");
    expect(esx.sessionManager.value).toBe("ha-sessionmgr");
  });

  it("turns a failed login into VSPHERE_LOGIN_FAILED with vCenter's text", () => {
    const error = (() => {
      try {
        readReply(fixture("xml/Login-fault-InvalidLogin-response-1.xml"), "Login", 500);
      } catch (e) {
        return e as VimFaultError;
      }
      throw new Error("no fault");
    })();
    expect(error.code).toBe("VSPHERE_LOGIN_FAILED");
    expect(error.faultType).toBe("InvalidLogin");
    expect(error.message).toContain("incorrect user name or password");
  });

  it("recognises an expired session's NotAuthenticated fault and its privilege field", () => {
    try {
      readReply(fixture("xml/AnyMethod-fault-NotAuthenticated-response-1.xml"), "AnyMethod", 500);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VimFaultError);
      expect((e as VimFaultError).faultType).toBe("NotAuthenticated");
      expect((e as VimFaultError).field("privilegeId")).toBe("System.View");
    }
  });

  it("reads property-level NotAuthenticated faults from missingSet (HTTP 200)", () => {
    const content = parseObjectContent(
      bare("govmomi/RetrieveProperties-response-not_authenticated_fault.xml").child("returnval"),
    );
    expect(content.props.get("defaultLocale")?.string()).toBe("en");
    expect(content.missing.get("sessionList")?.faultType).toBe("NotAuthenticated");
    expect(
      content.props
        .get("messageLocaleList")
        ?.items()
        .map((i) => i.string()),
    ).toContain("zh_CN");
  });
});

describe("VM configuration from real servers", () => {
  it("reads vCenter 6.7's vm-127: hardware version, flat disk, capacity in bytes, no changeId while CBT is off", () => {
    const config = parseVmConfig(
      propertyValue("xml/RetrievePropertiesEx-VirtualMachine.config-response-1.xml"),
    );
    expect(config.hardwareVersion).toBe("vmx-14");
    expect(config.changeTrackingEnabled).toBe(false);
    const disk = config.disks[0];
    expect(disk?.key).toBe(2000);
    expect(disk?.capacityBytes).toBe(21_474_836_480);
    expect(disk?.fileName).toBe("[datastore1] Proof Server/Proof Server.vmdk");
    expect(disk?.backingType).toBe("VirtualDiskFlatVer2BackingInfo");
    expect(disk?.diskMode).toBe("persistent");
    expect(disk?.changeId).toBeUndefined();
    expect(disk?.controllerType).toBe("VirtualLsiLogicSASController");
  });

  it("falls back to capacityInKB on vCenter 5.5 and follows a redo-log delta to its base", () => {
    const config = parseVmConfig(
      propertyValue("xml/RetrievePropertiesEx-VirtualMachine.config-response-3.xml"),
    );
    const disk = config.disks[0];
    expect(config.hardwareVersion).toBe("vmx-08");
    expect(disk?.capacityBytes).toBe(16_777_216 * 1024);
    expect(disk?.fileName).toBe("[storage0] box/box-000001.vmdk");
    expect(disk?.deltaDiskFormat).toBe("redoLogFormat");
    expect(disk?.parents).toEqual(["[storage0] box/box.vmdk"]);
  });

  it("reads vCenter 8.0.3's vSAN disk (uuid, sharing) from a Fetch reply", () => {
    const config = parseVmConfig(
      response("xml/Fetch-VirtualMachine.config-response-1.xml").child("returnval"),
    );
    const disk = config.disks[0];
    expect(config.hardwareVersion).toBe("vmx-11");
    expect(disk?.capacityBytes).toBe(2_147_483_648);
    expect(disk?.uuid).toMatch(/^6000C29/);
    expect(disk?.sharing).toBe("sharingNone");
    expect(disk && isShared(disk)).toBe(false);
    expect(disk && isRdm(disk)).toBe(false);
  });

  it("sees the running VM on seSparse deltas and the snapshot's config on the base files", () => {
    const live = parseVmConfig(
      propertyValue("xml/RetrievePropertiesEx-VirtualMachine.config-response-2.xml"),
    );
    const snap = parseVmConfig(
      propertyValue("xml/RetrievePropertiesEx-VirtualMachineSnapshot.config-response-1.xml"),
    );
    expect(live.disks).toHaveLength(13);
    expect(snap.disks).toHaveLength(13);
    expect(live.disks[0]?.fileName).toMatch(/-000001\.vmdk$/);
    expect(live.disks[0]?.deltaDiskFormat).toBe("seSparseFormat");
    expect(snap.disks[0]?.fileName).toBe(
      "[datastore1] VMware vCenter Server Appliance/VMware vCenter Server Appliance.vmdk",
    );
    expect(live.disks[0]?.parents[0]).toBe(snap.disks[0]?.fileName);
    expect(snap.disks.map((d) => d.uuid)).toEqual(live.disks.map((d) => d.uuid));
  });

  it("reads the snapshot tree and undoes the API's name escaping", () => {
    const info = propertyValue("xml/RetrievePropertiesEx-VirtualMachine.snapshot-response-2.xml");
    const [root] = info.many("rootSnapshotList").map(parseSnapshotTree);
    expect(root?.ref.value).toBe("snapshot-126");
    expect(root?.quiesced).toBe(false);
    expect(root?.children).toEqual([]);
    expect(decodeVimName(root?.name ?? "")).toBe("VM Snapshot 10%2f24%2f2018, 8:42:44 AM");
    expect(info.child("currentSnapshot").moref("VirtualMachineSnapshot").value).toBe("snapshot-126");
  });

  it("assembles an inventory from separate property replies (config, runtime, snapshot)", () => {
    const props = new Map([
      ["config", propertyValue("xml/RetrievePropertiesEx-VirtualMachine.config-response-2.xml")],
      ["runtime", propertyValue("xml/RetrievePropertiesEx-VirtualMachine.runtime-response-2.xml")],
      ["snapshot", propertyValue("xml/RetrievePropertiesEx-VirtualMachine.snapshot-response-2.xml")],
      ["capability", propertyValue("xml/RetrievePropertiesEx-VirtualMachine.capability-response-2.xml")],
    ]);
    const inv = parseVmInventory({ type: "VirtualMachine", value: "vm-22" }, props);
    expect(inv.powerState).toBe("poweredOn");
    expect(inv.changeTrackingSupported).toBe(true);
    expect(inv.snapshots).toHaveLength(1);
    expect(inv.currentSnapshot?.value).toBe("snapshot-126");
  });

  it("reads array-of-MoRef values whose items carry type before xsi:type", () => {
    const refs = propertyValue("xml/RetrievePropertiesEx-VirtualMachine.rootSnapshot-response-2.xml").items();
    expect(refs.map((r) => r.moref("VirtualMachineSnapshot").value)).toEqual(["snapshot-126"]);
    const host = bare("govmomi/RetrieveProperties-response-cluster_host_property.xml").child("returnval");
    const content = parseObjectContent(host);
    expect(content.props.get("parent")?.moref("Folder").value).toBe("group-h6");
    expect(content.props.get("host")?.items()).toHaveLength(4);
  });

  it("reads TaskInfo objects as vCenter writes them", () => {
    const tasks = response("xml/ReadNextTasks-response-1.xml").many("returnval");
    expect(tasks.map((t) => t.str("state"))).toEqual(["running", "queued", "queued", "queued"]);
    expect(tasks[0]?.child("reason").xsiType()).toBe("TaskReasonUser");
    expect(tasks[0]?.child("task").moref("Task").value).toBe("task-3996443");
  });
});
