/**
 * vim25 XML for the simulated vCenter's replies, in the shapes the recorded servers use: the vim25
 * namespace as default, MoRefs as `type` + text (`type` before `xsi:type` in anyType slots),
 * polymorphic values with `xsi:type`, fields newer than the requested API version left out
 * (capacityInBytes needs 5.5, sharing 6.0). The XMLSchema-instance prefix is configurable, because
 * vcsim writes `XMLSchema-instance:type` and clients must resolve prefixes, not match strings.
 */

import { escapeXml } from "../../vmware-vddk/soap/xml.ts";
import { compareVersions } from "../../vmware-vddk/soap/versions.ts";
import { DATASTORE, type FaultSpec, type MoRef, type SimSnapshot, type SimVm } from "./sim-vcenter.ts";

export const XSI = "http://www.w3.org/2001/XMLSchema-instance";

export class VimWriter {
  constructor(
    /** The API version of the request (from SOAPAction): newer fields are left out. */
    readonly version: string,
    readonly xsiPrefix = "xsi",
  ) {}

  type(name: string): string {
    return ` ${this.xsiPrefix}:type="${name}"`;
  }

  atLeast(version: string): boolean {
    return compareVersions(this.version, version) >= 0;
  }

  envelope(body: string): string {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"\n xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"\n xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n xmlns:${this.xsiPrefix}="${XSI}">\n<soapenv:Body>\n${body}\n</soapenv:Body>\n</soapenv:Envelope>`;
  }

  response(operation: string, inner: string): string {
    return this.envelope(`<${operation}Response xmlns="urn:vim25">${inner}</${operation}Response>`);
  }

  fault(fault: FaultSpec): string {
    return this.envelope(
      `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${escapeXml(fault.text)}</faultstring><detail><${fault.type}Fault xmlns="urn:vim25"${this.type(fault.type)}>${fault.fields ?? ""}</${fault.type}Fault></detail></soapenv:Fault>`,
    );
  }
}

export function mo(element: string, ref: MoRef, anyType = false, w?: VimWriter): string {
  const xsi = anyType && w !== undefined ? w.type("ManagedObjectReference") : "";
  return `<${element} type="${ref.type}"${xsi}>${escapeXml(ref.value)}</${element}>`;
}

export function el(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

interface DiskView {
  readonly key: number;
  readonly label: string;
  readonly descriptor: string;
  readonly parents: readonly string[];
  readonly capacity: number;
  readonly uuid: string;
  readonly changeId: string | undefined;
  readonly mode: string | undefined;
  readonly sharing: string | undefined;
  readonly rdm: string | undefined;
}

/** The VM's current config. */
export function vmConfig(w: VimWriter, vm: SimVm): string {
  const disks: DiskView[] = vm.disks.map((d) => ({
    key: d.key,
    label: d.options.label,
    descriptor: d.descriptor,
    parents: d.parents,
    capacity: d.capacity,
    uuid: d.options.uuid,
    changeId: d.tracking.changeId,
    mode: d.options.mode,
    sharing: d.options.sharing,
    rdm: d.options.rdm,
  }));
  return config(w, vm, vm.hardwareVersion, vm.changeTracking, disks);
}

/** A snapshot's config: the point-in-time view, disks on the frozen files with their changeIds then. */
export function snapshotConfig(w: VimWriter, vm: SimVm, snapshot: SimSnapshot): string {
  const disks: DiskView[] = [];
  for (const d of vm.disks) {
    const frozen = snapshot.disks.get(d.key);
    if (frozen === undefined) continue;
    disks.push({
      key: d.key,
      label: d.options.label,
      descriptor: frozen.descriptor,
      parents: frozen.parents,
      capacity: frozen.capacity,
      uuid: d.options.uuid,
      changeId: frozen.tracking.active ? `${frozen.tracking.uuid}/${frozen.tracking.seq}` : undefined,
      mode: d.options.mode,
      sharing: d.options.sharing,
      rdm: d.options.rdm,
    });
  }
  return config(w, vm, snapshot.hardwareVersion, snapshot.changeTracking, disks);
}

function config(w: VimWriter, vm: SimVm, hardware: number, cbt: boolean, disks: readonly DiskView[]): string {
  const guest = vm.spec.guestId ?? "otherLinux64Guest";
  const devices = [
    `<device${w.type("ParaVirtualSCSIController")}><key>1000</key><deviceInfo><label>SCSI controller 0</label><summary>VMware paravirtual SCSI</summary></deviceInfo><controllerKey>100</controllerKey><unitNumber>3</unitNumber><busNumber>0</busNumber>${disks.map((d) => el("device", d.key)).join("")}<hotAddRemove>true</hotAddRemove><sharedBus>noSharing</sharedBus><scsiCtlrUnitNumber>7</scsiCtlrUnitNumber></device>`,
    ...disks.map((d, i) => disk(w, d, i)),
  ];
  if (vm.spec.usbPassthrough === true) {
    devices.push(
      `<device${w.type("VirtualUSB")}><key>4000</key><deviceInfo><label>USB 1</label><summary>SafeNet dongle</summary></deviceInfo><connected>true</connected><vendor>1321</vendor><product>1</product></device>`,
    );
  }
  return `<name>${escapeXml(vm.name)}</name><guestFullName>${guest}</guestFullName><version>vmx-${String(hardware).padStart(2, "0")}</version><uuid>${vm.uuid}</uuid><instanceUuid>${vm.instanceUuid}</instanceUuid><changeTrackingEnabled>${cbt}</changeTrackingEnabled><template>false</template><guestId>${guest}</guestId><files><vmPathName>[${DATASTORE}] ${escapeXml(vm.name)}/${escapeXml(vm.name)}.vmx</vmPathName><snapshotDirectory>[${DATASTORE}] ${escapeXml(vm.name)}/</snapshotDirectory></files><hardware><numCPU>2</numCPU><memoryMB>4096</memoryMB>${devices.join("")}</hardware><extraConfig><key>disk.EnableUUID</key><value${w.type("xsd:string")}>TRUE</value></extraConfig>`;
}

function disk(w: VimWriter, d: DiskView, unit: number): string {
  const datastore = mo("datastore", { type: "Datastore", value: "datastore-21" });
  const parent = d.parents.reduceRight(
    (inner, file) =>
      `<parent><fileName>${escapeXml(file)}</fileName>${datastore}<diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned><uuid>${d.uuid}</uuid>${inner}</parent>`,
    "",
  );
  const mode = d.mode ?? "persistent";
  const sharing = w.atLeast("6.0") ? `<sharing>${d.sharing ?? "sharingNone"}</sharing>` : "";
  const changeId = d.changeId === undefined ? "" : `<changeId>${escapeXml(d.changeId)}</changeId>`;
  const backing =
    d.rdm === undefined
      ? `<backing${w.type("VirtualDiskFlatVer2BackingInfo")}><fileName>${escapeXml(d.descriptor)}</fileName>${datastore}<diskMode>${mode}</diskMode><split>false</split><writeThrough>false</writeThrough><thinProvisioned>true</thinProvisioned><uuid>${d.uuid}</uuid>${changeId}${parent}${d.parents.length > 0 ? "<deltaDiskFormat>redoLogFormat</deltaDiskFormat>" : ""}${sharing}</backing>`
      : `<backing${w.type("VirtualDiskRawDiskMappingVer1BackingInfo")}><fileName>${escapeXml(d.descriptor)}</fileName>${datastore}<lunUuid>0200000000600508b1001c</lunUuid><deviceName>vml.0200000000600508b1001c</deviceName><compatibilityMode>${d.rdm}</compatibilityMode><diskMode>${mode}</diskMode><uuid>${d.uuid}</uuid>${changeId}${sharing}</backing>`;
  const bytes = w.atLeast("5.5") ? `<capacityInBytes>${d.capacity}</capacityInBytes>` : "";
  return `<device${w.type("VirtualDisk")}><key>${d.key}</key><deviceInfo><label>${escapeXml(d.label)}</label><summary>${Math.floor(d.capacity / 1024)} KB</summary></deviceInfo>${backing}<controllerKey>1000</controllerKey><unitNumber>${unit < 7 ? unit : unit + 1}</unitNumber><capacityInKB>${Math.floor(d.capacity / 1024)}</capacityInKB>${bytes}</device>`;
}

export function snapshotInfo(w: VimWriter, vm: SimVm): string {
  const tree = (s: SimSnapshot): string =>
    `${mo("snapshot", s.ref)}${mo("vm", vm.ref)}<name>${escapeXml(s.name.replace(/%/g, "%25").replace(/\//g, "%2f"))}</name><description>${escapeXml(s.description)}</description><id>${s.id}</id><createTime>${s.createTime}</createTime><state>${s.state}</state><quiesced>${s.quiesced}</quiesced>${s.children.map((c) => `<childSnapshotList>${tree(c)}</childSnapshotList>`).join("")}`;
  const current = vm.current === undefined ? "" : mo("currentSnapshot", vm.current.ref);
  return `${current}${vm.roots.map((r) => `<rootSnapshotList>${tree(r)}</rootSnapshotList>`).join("")}`;
}

export function runtime(vm: SimVm): string {
  return `${mo("host", { type: "HostSystem", value: vm.host })}<connectionState>connected</connectionState><powerState>${vm.powerState}</powerState><consolidationNeeded>false</consolidationNeeded>`;
}

/** The VM's files, including any VSS manifests its snapshots left. */
export function layoutEx(vm: SimVm): string {
  const files = [
    `${vm.name}.vmx`,
    ...vm.allSnapshots().flatMap((s) => (s.manifest === undefined ? [] : [s.manifest])),
  ];
  return files
    .map(
      (f, i) =>
        `<file><key>${i}</key><name>[${DATASTORE}] ${escapeXml(vm.name)}/${escapeXml(f)}</name><type>${f.endsWith(".zip") ? "snapshotManifestList" : "config"}</type><size>1024</size><accessible>true</accessible></file>`,
    )
    .join("");
}
