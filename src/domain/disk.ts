/** What Lifeboat knows about one disk of a protected source. */

/** Stable across reboots and re-enumeration: GPT disk GUID, MBR signature, VMware disk UUID, image path hash. */
export type DiskId = string;

export interface Disk {
  readonly id: DiskId;
  /** Size in bytes. */
  readonly capacity: number;
  readonly sectorSize: number;
  readonly label?: string;
  /** Boot, shared, offline, dynamic… as the source reports them (preflight reads these). */
  readonly flags?: readonly string[];
}

/** Names that may appear in repository object keys and point ids. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function assertSafeName(kind: string, name: string): void {
  if (!SAFE_NAME.test(name)) {
    throw new RangeError(`${kind} name ${JSON.stringify(name)} must match ${SAFE_NAME.source}`);
  }
}
