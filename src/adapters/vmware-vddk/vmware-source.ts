/**
 * A VMware VM protected agentlessly, as a Source: disks from the VM's config, snapshots taken
 * through vSphere (quiesced when possible), disks read through VDDK from the snapshot, changes from
 * CBT. Before each snapshot it removes its own stale snapshots (a crashed proxy's), warns about other
 * products' snapshots, refuses VMs whose support limits block protection, and switches CBT on.
 */

import { randomUUID } from "node:crypto";
import type { Disk } from "../../domain/disk.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { Consistency } from "../../domain/snapshot.ts";
import type { Log } from "../../ports/log.ts";
import type { Source, SourceSnapshot } from "../../ports/source.ts";
import { hasBlockingFinding, vmPreflight } from "./preflight/vm-preflight.ts";
import type { Credentials, VimClient } from "./soap/vim-client.ts";
import { certificateThumbprint, formatThumbprint } from "./soap/thumbprint.ts";
import type { MoRef } from "./soap/vim-node.ts";
import { openVddk } from "./vddk/vddk-native.ts";
import { VddkSnapshotReader } from "./vddk/snapshot-reader.ts";
import { retrieveOne } from "./vsphere/property-collector.ts";
import { isLifeboatSnapshot, snapshotLabel, snapshotProxy } from "./vsphere/snapshot-names.ts";
import {
  createSyncSnapshot,
  enableChangeTracking,
  removeSnapshot,
  removeStaleSnapshots,
} from "./vsphere/snapshots.ts";
import type { TaskWait } from "./vsphere/tasks.ts";
import { parseVmConfig, type VmConfig, type VmDisk } from "./vsphere/vm-config.ts";
import { allSnapshots, readVmInventory, type VmInventory } from "./vsphere/vm-inventory.ts";
import { findVm } from "./vsphere/vm-lookup.ts";
import {
  datacenterName,
  downloadDatastoreFile,
  findManifest,
  manifestConsistency,
  zipEntries,
} from "./vsphere/vss-manifest.ts";
import { type SnapshotDiskInfo, VmwareSnapshot } from "./vmware-snapshot.ts";

export interface VddkSettings {
  /** libvixDiskLib.so, or the VDDK directory holding lib64/libvixDiskLib.so. */
  readonly library: string;
  readonly configFile?: string;
  /** Transport modes in order of preference, colon-separated (`nbdssl:nbd`). */
  readonly transports: string;
}

export interface VmwareSourceOptions {
  readonly client: VimClient;
  /** VM name, inventory path, UUID or `moref=vm-N`. */
  readonly vm: string;
  /** Name of the source in the repository. */
  readonly name: string;
  /** Identifies this proxy's snapshots, so it removes only its own stale ones. */
  readonly proxyId: string;
  readonly credentials: Credentials;
  readonly vddk: VddkSettings;
  readonly log: Log;
  readonly excludeDisks?: readonly string[];
  readonly taskWait?: TaskWait;
  readonly readRetryDelayMs?: number;
}

/** Warnings this class reports itself, in more detail, while it takes the snapshot. */
const HANDLED_HERE = new Set(["VM_FOREIGN_SNAPSHOTS", "VM_TOOLS_NOT_RUNNING", "VM_CBT_WITH_SNAPSHOTS"]);

export class VmwareSource implements Source {
  readonly name: string;
  #ref: MoRef | undefined;

  constructor(readonly options: VmwareSourceOptions) {
    this.name = options.name;
  }

  async ref(): Promise<MoRef> {
    this.#ref ??= await findVm(this.options.client, this.options.vm);
    return this.#ref;
  }

  async describe(): Promise<readonly Disk[]> {
    const inventory = await readVmInventory(this.options.client, await this.ref());
    return this.#wanted(inventory.config).map(toDisk);
  }

  async openSnapshot(diskIds: readonly string[]): Promise<SourceSnapshot> {
    const { client, log } = this.options;
    let inventory = await readVmInventory(client, await this.ref());
    const wanted = inventory.config.disks.filter((d) => diskIds.includes(diskId(d)));
    const findings = vmPreflight({ ...inventory, config: { ...inventory.config, disks: wanted } });
    if (hasBlockingFinding(findings)) {
      const errors = findings.filter((f) => f.severity === "error");
      throw new LifeboatError(
        "PREFLIGHT_FAILED",
        `${inventory.name}: ${errors.map((f) => `${f.code} (${f.cause})`).join("; ")}`,
      );
    }
    // Degradations the VM's own settings cause belong in every job result, not only in preflight's.
    const warnings: string[] = findings
      .filter((f) => f.severity === "warning" && !HANDLED_HERE.has(f.code))
      .map((f) => `${f.code}: ${f.cause}`);
    if (
      (await removeStaleSnapshots(client, inventory, this.options.proxyId, this.options.taskWait)).length > 0
    ) {
      inventory = await readVmInventory(client, inventory.ref);
    }
    const snapshots = allSnapshots(inventory.snapshots);
    const foreign = snapshots.filter((s) => !isLifeboatSnapshot(s));
    if (foreign.length > 0) {
      warnings.push(
        `${inventory.name} carries ${foreign.length} snapshot(s) Lifeboat did not take: another backup product may be using CBT on it`,
      );
    }
    const otherProxies = [
      ...new Set(snapshots.filter(isLifeboatSnapshot).map((s) => snapshotProxy(s.description) ?? "?")),
    ];
    if (otherProxies.length > 0) {
      warnings.push(
        `Lifeboat snapshots of other proxies (${otherProxies.join(", ")}) exist on ${inventory.name}: protect each VM from one proxy only`,
      );
    }
    if (
      !inventory.config.changeTrackingEnabled &&
      inventory.changeTrackingSupported &&
      inventory.config.hardwareVersionNumber >= 7
    ) {
      if (foreign.length === 0) {
        await enableChangeTracking(client, inventory.ref, this.options.taskWait);
        log.info({ vm: inventory.name }, "enabled changed block tracking; it starts at this sync's snapshot");
      } else {
        warnings.push(
          `changed block tracking is off and cannot be enabled while snapshots exist: ${inventory.name} is synced by content hash`,
        );
      }
    }
    const label = snapshotLabel(randomJob(), this.options.proxyId, new Date());
    const created = await createSyncSnapshot(client, inventory, label, this.options.taskWait);
    warnings.push(...created.warnings);
    try {
      return await this.#open(inventory, created.ref, created.quiesced, diskIds, warnings);
    } catch (e) {
      await removeSnapshot(client, created.ref, this.options.taskWait).catch((r: unknown) =>
        log.error(
          { vm: inventory.name, err: (r as Error).message },
          "removing the sync snapshot after a failure failed",
        ),
      );
      throw e;
    }
  }

  async #open(
    inventory: VmInventory,
    snapshot: MoRef,
    quiesced: boolean,
    diskIds: readonly string[],
    warnings: string[],
  ): Promise<VmwareSnapshot> {
    const { client, log } = this.options;
    const configNode = (await retrieveOne(client, snapshot, ["config"])).props.get("config");
    if (configNode === undefined)
      throw new LifeboatError("VSPHERE_REPLY_INVALID", `snapshot ${snapshot.value} has no config`);
    const config = parseVmConfig(configNode);
    const disks: SnapshotDiskInfo[] = diskIds.map((id) => {
      const d = config.disks.find((x) => diskId(x) === id);
      if (d === undefined)
        throw new LifeboatError(
          "DISK_NOT_FOUND",
          `snapshot ${snapshot.value} of ${inventory.name} has no disk ${id}`,
        );
      return {
        disk: toDisk(d),
        deviceKey: d.key,
        path: d.fileName,
        changeId: d.changeId,
        hardware: config.hardwareVersion,
        slot: `${d.controllerKey}:${d.unitNumber ?? "?"}`,
      };
    });
    const node = allSnapshots((await readVmInventory(client, inventory.ref)).snapshots).find(
      (s) => s.ref.value === snapshot.value,
    );
    const consistency = await this.#consistency(inventory, node?.id, quiesced, warnings);
    const library = await openVddk(this.options.vddk.library, this.options.vddk.configFile);
    const der = client.transport.peerCertificate;
    const reader = await VddkSnapshotReader.open(
      library,
      {
        vmxSpec: `moref=${inventory.ref.value}`,
        serverName: client.url.hostname,
        ...(client.url.port === "" ? {} : { port: Number(client.url.port) }),
        thumbprint: der === undefined ? "" : formatThumbprint(certificateThumbprint(der, "sha1")),
        userName: this.options.credentials.user,
        password: this.options.credentials.password,
        snapshotRef: snapshot.value,
        transportModes: this.options.vddk.transports,
      },
      disks.map((d) => ({ id: d.disk.id, path: d.path })),
      {
        log,
        ...(this.options.readRetryDelayMs === undefined
          ? {}
          : { retryDelayMs: this.options.readRetryDelayMs }),
      },
    );
    log.info(
      { vm: inventory.name, snapshot: snapshot.value, transport: reader.transportMode, consistency },
      "snapshot open",
    );
    return new VmwareSnapshot({
      client,
      vm: inventory.ref,
      vmName: inventory.name,
      snapshot,
      takenAt: node === undefined ? Date.now() : Date.parse(node.createTime),
      consistency,
      warnings,
      disks,
      reader,
      log,
      ...(this.options.taskWait === undefined ? {} : { taskWait: this.options.taskWait }),
    });
  }

  /** Quiesced Windows snapshots: the VSS manifest tells application from file-system consistency. */
  async #consistency(
    inventory: VmInventory,
    snapshotId: number | undefined,
    quiesced: boolean,
    warnings: string[],
  ): Promise<Consistency> {
    if (!quiesced) return "crash";
    if (!(inventory.config.guestId ?? "").toLowerCase().startsWith("win") || snapshotId === undefined)
      return "filesystem";
    try {
      const path = await findManifest(this.options.client, inventory.ref, snapshotId);
      if (path === undefined) {
        warnings.push(
          `quiesced snapshot of ${inventory.name} left no vss-manifest.zip: recorded as file-system consistent`,
        );
        return "filesystem";
      }
      const zip = await downloadDatastoreFile(
        this.options.client,
        path,
        await datacenterName(this.options.client, inventory.ref),
      );
      return manifestConsistency(zipEntries(zip));
    } catch (e) {
      warnings.push(
        `cannot read the VSS manifest of ${inventory.name} (${(e as Error).message}): recorded as file-system consistent`,
      );
      return "filesystem";
    }
  }

  #wanted(config: VmConfig): VmDisk[] {
    const excluded = new Set(this.options.excludeDisks ?? []);
    return config.disks.filter((d) => !excluded.has(diskId(d)) && !excluded.has(d.label));
  }
}

/** A disk's stable id: its VMware disk UUID, or its device key when the backing has none. */
export function diskId(disk: VmDisk): string {
  return disk.uuid?.replace(/[^A-Za-z0-9._-]/g, "") || `disk-${disk.key}`;
}

function toDisk(d: VmDisk): Disk {
  const flags: string[] = [];
  if (d.diskMode?.startsWith("independent")) flags.push("independent");
  if (d.compatibilityMode !== undefined) flags.push(`rdm-${d.compatibilityMode}`);
  if (d.sharing === "sharingMultiWriter" || (d.controllerSharing ?? "noSharing") !== "noSharing")
    flags.push("shared");
  return {
    id: diskId(d),
    capacity: d.capacityBytes,
    sectorSize: 512,
    label: `${d.label} ${d.fileName}`,
    flags,
  };
}

function randomJob(): string {
  return randomUUID().replace(/-/g, "");
}
