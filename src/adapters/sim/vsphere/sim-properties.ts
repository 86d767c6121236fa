/**
 * The simulated PropertyCollector: `RetrievePropertiesEx` / `ContinueRetrievePropertiesEx` over the
 * world's objects, object by object (no traversal), with real-server behaviour: an unset property
 * is omitted, an unknown path is an InvalidProperty fault, an unknown object ManagedObjectNotFound,
 * and large results are paged with a token.
 */

import type { XmlElement } from "../../vmware-vddk/soap/xml.ts";
import { escapeXml } from "../../vmware-vddk/soap/xml.ts";
import { DATACENTER, type MoRef, type SimVcenter } from "./sim-vcenter.ts";
import { SimFault, type SimTask, taskInfo } from "./sim-tasks.ts";
import {
  layoutEx,
  mo,
  runtime,
  snapshotConfig,
  snapshotInfo,
  type VimWriter,
  vmConfig,
} from "./vim-writer.ts";

const PAGE = 50;

export interface ViewStore {
  readonly views: Map<string, MoRef[]>;
  readonly tasks: Map<string, SimTask>;
  readonly pages: Map<string, string[]>;
}

export function retrievePropertiesEx(
  world: SimVcenter,
  store: ViewStore,
  w: VimWriter,
  request: XmlElement,
): string {
  const objects: string[] = [];
  for (const spec of request.all("specSet")) {
    const props = spec.all("propSet").map((p) => ({
      type: p.first("type")?.text ?? "",
      paths: p.all("pathSet").map((x) => x.text),
      all: p.first("all")?.text === "true",
    }));
    for (const objectSpec of spec.all("objectSet")) {
      const obj = objectSpec.first("obj");
      if (obj === undefined)
        throw new SimFault(
          "InvalidArgument",
          "A specified parameter was not correct: obj",
          "<invalidProperty>obj</invalidProperty>",
        );
      const ref = { type: obj.attribute("type") ?? "", value: obj.text };
      const wanted = props.find((p) => p.type === ref.type);
      if (wanted === undefined) continue;
      if (wanted.all) throw new SimFault("NotSupported", "The simulator does not serve all=true");
      const sets = wanted.paths.map((path) => property(world, store, w, ref, path)).filter((s) => s !== "");
      objects.push(`<objects>${mo("obj", ref)}${sets.join("")}</objects>`);
    }
  }
  return page(store, objects);
}

export function continueRetrieve(store: ViewStore, token: string): string {
  const rest = store.pages.get(token);
  if (rest === undefined)
    throw new SimFault(
      "InvalidArgument",
      "A specified parameter was not correct: token",
      "<invalidProperty>token</invalidProperty>",
    );
  store.pages.delete(token);
  return page(store, rest);
}

function page(store: ViewStore, objects: readonly string[]): string {
  if (objects.length === 0) return "";
  if (objects.length <= PAGE) return `<returnval>${objects.join("")}</returnval>`;
  const token = `page-${store.pages.size + 1}-${Date.now()}`;
  store.pages.set(token, objects.slice(PAGE));
  return `<returnval><token>${token}</token>${objects.slice(0, PAGE).join("")}</returnval>`;
}

/** One propSet, "" for an unset property. */
function property(world: SimVcenter, store: ViewStore, w: VimWriter, ref: MoRef, path: string): string {
  const value = readPath(world, store, w, ref, path);
  return value === undefined ? "" : `<propSet><name>${escapeXml(path)}</name>${value}</propSet>`;
}

function readPath(
  world: SimVcenter,
  store: ViewStore,
  w: VimWriter,
  ref: MoRef,
  path: string,
): string | undefined {
  const str = (v: string): string => `<val${w.type("xsd:string")}>${escapeXml(v)}</val>`;
  switch (ref.type) {
    case "VirtualMachine": {
      const vm = world.vms.get(ref.value);
      if (vm === undefined) throw notFound(ref);
      switch (path) {
        case "name":
          return str(vm.name);
        case "config":
          return `<val${w.type("VirtualMachineConfigInfo")}>${vmConfig(w, vm)}</val>`;
        case "runtime":
          return `<val${w.type("VirtualMachineRuntimeInfo")}>${runtime(vm)}</val>`;
        case "capability":
          return `<val${w.type("VirtualMachineCapability")}><snapshotOperationsSupported>true</snapshotOperationsSupported><changeTrackingSupported>${vm.hardwareVersion >= 7}</changeTrackingSupported></val>`;
        case "snapshot":
          return vm.roots.length === 0
            ? undefined
            : `<val${w.type("VirtualMachineSnapshotInfo")}>${snapshotInfo(w, vm)}</val>`;
        case "guest.toolsRunningStatus":
          return str(vm.spec.toolsRunning === false ? "guestToolsNotRunning" : "guestToolsRunning");
        case "layoutEx.file":
          return `<val${w.type("ArrayOfVirtualMachineFileLayoutExFileInfo")}>${layoutEx(vm)
            .replace(/<file>/g, "<VirtualMachineFileLayoutExFileInfo>")
            .replace(/<\/file>/g, "</VirtualMachineFileLayoutExFileInfo>")}</val>`;
        case "parent":
          return `<val type="Folder"${w.type("ManagedObjectReference")}>group-v3</val>`;
      }
      break;
    }
    case "VirtualMachineSnapshot": {
      const snapshot = world.snapshots.get(ref.value);
      const vm = [...world.vms.values()].find((v) => v.allSnapshots().some((s) => s.ref.value === ref.value));
      if (snapshot === undefined || vm === undefined) throw notFound(ref);
      if (path === "config")
        return `<val${w.type("VirtualMachineConfigInfo")}>${snapshotConfig(w, vm, snapshot)}</val>`;
      if (path === "vm")
        return `<val type="VirtualMachine"${w.type("ManagedObjectReference")}>${vm.ref.value}</val>`;
      break;
    }
    case "Task": {
      const task = store.tasks.get(ref.value);
      if (task === undefined) throw notFound(ref);
      if (path === "info") return `<val${w.type("TaskInfo")}>${taskInfo(w, task)}</val>`;
      break;
    }
    case "HostSystem": {
      if (!world.hosts.includes(ref.value)) throw notFound(ref);
      if (path === "name") return str(`esx-${ref.value}.lab.local`);
      if (path === "summary.config.product") {
        return `<val${w.type("AboutInfo")}><name>VMware ESXi</name><fullName>VMware ESXi 7.0.3 build-21930508</fullName><vendor>VMware, Inc.</vendor><version>7.0.3</version><build>21930508</build><apiType>HostAgent</apiType><apiVersion>7.0.3.0</apiVersion></val>`;
      }
      break;
    }
    case "ContainerView": {
      const view = store.views.get(ref.value);
      if (view === undefined) throw notFound(ref);
      if (path === "view") {
        return `<val${w.type("ArrayOfManagedObjectReference")}>${view.map((v) => mo("ManagedObjectReference", v, true, w)).join("")}</val>`;
      }
      break;
    }
    case "Datacenter":
      if (path === "name") return str(DATACENTER);
      break;
    case "Folder":
      if (path === "parent")
        return ref.value === "group-v3"
          ? `<val type="Datacenter"${w.type("ManagedObjectReference")}>datacenter-2</val>`
          : undefined;
      break;
  }
  throw new SimFault(
    "InvalidProperty",
    `A specified parameter was not correct: ${path}`,
    `<name>${escapeXml(path)}</name>`,
  );
}

function notFound(ref: MoRef): SimFault {
  return new SimFault(
    "ManagedObjectNotFound",
    `The object '${ref.type}:${ref.value}' has already been deleted or has not been completely created`,
    mo("obj", ref),
  );
}
