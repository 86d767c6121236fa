/** The simulated vSphere: a world of VMs (sim-vcenter.ts) served over HTTPS as vim25 SOAP (sim-server.ts). */

export { CBT_GRAIN, changedSince, DiskChangeTracking, vmwareUuid } from "./change-tracking.ts";
export { SimVsphereServer, type SimServerOptions } from "./sim-server.ts";
export {
  DATACENTER,
  DATASTORE,
  type FaultSpec,
  SimVcenter,
  type SimVcenterOptions,
  type SimDiskSpec,
  type SimSnapshot,
  SimVm,
  type SimVmSpec,
} from "./sim-vcenter.ts";
export { vssManifest } from "./vss-manifest-zip.ts";
