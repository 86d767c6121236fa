/**
 * A simulated VM: file-backed disks, a snapshot tree with copy-on-write deltas, change tracking,
 * and the things that happen to VMs in production — guest writes, user snapshots and reverts,
 * resizes, hardware upgrades, DRS and Storage vMotions.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SimVcenter } from "./sim-vcenter.ts";
import { DATASTORE, type MoRef, type SimSnapshot, type SimVmSpec } from "./sim-types.ts";
import { SimVirtualDisk } from "./virtual-disk.ts";
import { vssManifest } from "./vss-manifest-zip.ts";

export class SimVm {
  readonly ref: MoRef;
  readonly name: string;
  readonly uuid: string;
  readonly instanceUuid: string;
  readonly disks: SimVirtualDisk[];
  readonly roots: SimSnapshot[] = [];
  current: SimSnapshot | undefined;
  powerState: string;
  host: string;
  hardwareVersion: number;
  changeTracking: boolean;
  #snapshotIds = 0;

  constructor(
    readonly world: SimVcenter,
    readonly spec: SimVmSpec,
  ) {
    this.ref = { type: "VirtualMachine", value: world.newId("vm") };
    this.name = spec.name;
    this.uuid = world.uuid("vm");
    this.instanceUuid = world.uuid("vm");
    this.powerState = spec.powerState ?? "poweredOn";
    this.host = world.hosts[0] as string;
    this.hardwareVersion = spec.hardwareVersion ?? 14;
    this.changeTracking = false;
    this.disks = spec.disks.map(
      (d, i) =>
        new SimVirtualDisk(
          {
            key: 2000 + i,
            label: d.label ?? `Hard disk ${i + 1}`,
            baseName: i === 0 ? spec.name : `${spec.name}_${i}`,
            capacity: d.capacity,
            uuid: world.uuid("disk"),
            ...(d.mode === undefined ? {} : { mode: d.mode }),
            ...(d.sharing === undefined ? {} : { sharing: d.sharing }),
            ...(d.rdm === undefined ? {} : { rdm: d.rdm }),
          },
          world.options.root,
          DATASTORE,
          spec.name,
          () => world.uuid("cbt"),
        ),
    );
    if (spec.changeTracking === true) {
      this.setChangeTracking(true);
      this.stun();
    }
  }

  get dir(): string {
    return join(this.world.options.root, DATASTORE, this.name);
  }

  /** A guest write to disk `index`. */
  write(index: number, offset: number, data: Uint8Array): void {
    this.#disk(index).write(offset, data);
  }

  /** What the guest sees on disk `index` now (the test oracle). */
  content(index: number): Uint8Array {
    const disk = this.#disk(index);
    return disk.read(0, disk.capacity);
  }

  setChangeTracking(enabled: boolean): void {
    this.changeTracking = enabled;
    for (const d of this.disks) {
      if (enabled) d.tracking.enabled = true;
      else d.tracking.disable();
    }
  }

  /** Power on, resume, migrate, snapshot: tracking starts or closes an epoch. */
  stun(): void {
    for (const d of this.disks) d.tracking.stun();
  }

  resizeDisk(index: number, capacity: number): void {
    this.#disk(index).resize(capacity);
  }

  /** Upgrade VM Compatibility: a hardware change, after which backup tools must not trust CBT. */
  upgradeHardware(version: number): void {
    this.hardwareVersion = version;
  }

  /** DRS moves the VM; a Storage vMotion also resets CBT; `breakReads` makes the next VDDK reads fail. */
  migrate(options: { storage?: boolean; breakReads?: number } = {}): void {
    this.host = this.world.hosts.find((h) => h !== this.host) ?? this.host;
    if (options.storage === true) for (const d of this.disks) d.tracking.reset();
    if (options.breakReads !== undefined) {
      writeFileSync(
        join(this.world.options.root, ".standin-faults"),
        `read ${this.name}/ 0 ${options.breakReads}\n`,
      );
    }
  }

  createSnapshot(name: string, description: string, quiesced: boolean): SimSnapshot {
    const disks = new Map(this.disks.map((d) => [d.key, d.freeze()] as const));
    const id = ++this.#snapshotIds;
    let manifest: string | undefined;
    if (quiesced && (this.spec.guestId ?? "").startsWith("windows")) {
      // VMware Tools leaves the VSS manifest in the snapshot directory (the VM directory here).
      manifest = `vss-manifest${id}.zip`;
      writeFileSync(
        join(this.dir, manifest),
        vssManifest((this.spec.quiesce ?? "application") === "application"),
      );
    }
    const snapshot: SimSnapshot = {
      ref: { type: "VirtualMachineSnapshot", value: this.world.newId("snapshot") },
      name,
      description,
      id,
      createTime: new Date().toISOString(),
      quiesced,
      state: this.powerState,
      parent: this.current,
      children: [],
      disks,
      hardwareVersion: this.hardwareVersion,
      changeTracking: this.changeTracking,
      ...(manifest === undefined ? {} : { manifest }),
    };
    (this.current?.children ?? this.roots).push(snapshot);
    this.current = snapshot;
    this.world.snapshots.set(snapshot.ref.value, snapshot);
    return snapshot;
  }

  /** Removes a snapshot, folding its child's (or the running) content into its file. */
  removeSnapshot(snapshot: SimSnapshot): void {
    if (snapshot.children.length > 1) throw new Error("cannot remove a snapshot with several children");
    const child = snapshot.children[0];
    for (const d of this.disks) {
      const frozen = snapshot.disks.get(d.key);
      if (frozen !== undefined) d.fold(frozen, child?.disks.get(d.key));
    }
    const siblings = snapshot.parent?.children ?? this.roots;
    siblings.splice(siblings.indexOf(snapshot), 1, ...(child === undefined ? [] : [child]));
    if (child !== undefined) child.parent = snapshot.parent;
    if (this.current === snapshot) this.current = snapshot.parent;
    this.world.snapshots.delete(snapshot.ref.value);
  }

  /** Reverts the VM to a snapshot: content and change tracking go back with it. */
  revertTo(snapshot: SimSnapshot): void {
    for (const d of this.disks) {
      const frozen = snapshot.disks.get(d.key);
      if (frozen !== undefined) d.revert(frozen);
    }
    this.current = snapshot;
  }

  allSnapshots(): SimSnapshot[] {
    const out: SimSnapshot[] = [];
    const walk = (s: SimSnapshot): void => {
      out.push(s);
      s.children.forEach(walk);
    };
    this.roots.forEach(walk);
    return out;
  }

  #disk(index: number): SimVirtualDisk {
    const disk = this.disks[index];
    if (disk === undefined) throw new RangeError(`${this.name} has no disk ${index}`);
    return disk;
  }
}
