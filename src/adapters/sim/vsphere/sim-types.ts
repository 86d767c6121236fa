/** Shapes shared by the simulated vCenter's world, its VMs and its SOAP server. */

import type { FrozenDisk } from "./virtual-disk.ts";

export interface MoRef {
  readonly type: string;
  readonly value: string;
}

export interface SimDiskSpec {
  readonly capacity: number;
  readonly label?: string;
  readonly mode?: string;
  readonly sharing?: string;
  readonly rdm?: string;
}

export interface SimVmSpec {
  readonly name: string;
  readonly guestId?: string;
  readonly hardwareVersion?: number;
  readonly powerState?: "poweredOn" | "poweredOff" | "suspended";
  readonly toolsRunning?: boolean;
  /** What a quiesced snapshot achieves: VSS writers involved, file-system only, or a failure. */
  readonly quiesce?: "application" | "filesystem" | "fail";
  readonly changeTracking?: boolean;
  readonly usbPassthrough?: boolean;
  readonly disks: readonly SimDiskSpec[];
}

export interface SimSnapshot {
  readonly ref: MoRef;
  readonly name: string;
  readonly description: string;
  readonly id: number;
  readonly createTime: string;
  readonly quiesced: boolean;
  readonly state: string;
  parent: SimSnapshot | undefined;
  readonly children: SimSnapshot[];
  readonly disks: Map<number, FrozenDisk>;
  readonly hardwareVersion: number;
  readonly changeTracking: boolean;
  /** `vss-manifestN.zip` written beside the VM when VSS quiesced it. */
  readonly manifest?: string;
}

export interface FaultSpec {
  readonly type: string;
  readonly text: string;
  /** Extra XML inside the fault detail (`<invalidProperty>changeId</invalidProperty>`). */
  readonly fields?: string;
}

export interface SimVcenterOptions {
  /** Directory holding the datastores (one, `datastore1`). */
  readonly root: string;
  readonly user: string;
  readonly password: string;
  readonly seed?: number | string;
  /** The newest API version the server speaks (`apiVersion`); older ones are listed as prior. */
  readonly apiVersion?: string;
  /** QueryChangedDiskAreas answers at most this many extents… */
  readonly maxExtents?: number;
  /** …over a window at most this long, so the client must page. */
  readonly windowBytes?: number;
  /** Task polls that see `running` before the task finishes. */
  readonly taskPolls?: number;
  readonly missingPrivileges?: readonly string[];
}

export const DATASTORE = "datastore1";
export const DATACENTER = "DC1";
