/**
 * The change token Lifeboat records with each restore point of a VMware disk, and the rules that
 * decide whether CBT can still be trusted since it. The changeId itself is opaque (VMware spells it
 * `52 2d … 7b/3`, spaces included) and is sent back byte for byte; the token wraps it with the disk
 * facts whose change invalidates tracking: capacity, virtual hardware, and the disk's controller
 * slot. It is stored only inside a committed point, so a failed sync never advances it.
 */

export interface VmwareChangeToken {
  readonly v: 1;
  readonly changeId: string;
  readonly capacity: number;
  readonly hardware: string;
  /** `controllerKey:unitNumber`: a disk moved to another controller has lost its tracking. */
  readonly slot: string;
}

const PREFIX = "vmware-cbt:";

export function encodeToken(token: Omit<VmwareChangeToken, "v">): string {
  return `${PREFIX}${JSON.stringify({ v: 1, ...token })}`;
}

export function decodeToken(text: string): VmwareChangeToken | undefined {
  if (!text.startsWith(PREFIX)) return undefined;
  try {
    const t = JSON.parse(text.slice(PREFIX.length)) as Partial<VmwareChangeToken>;
    if (t.v !== 1 || typeof t.changeId !== "string" || typeof t.capacity !== "number") return undefined;
    if (typeof t.hardware !== "string" || typeof t.slot !== "string") return undefined;
    return t as VmwareChangeToken;
  } catch {
    return undefined;
  }
}

export interface ParsedChangeId {
  /** The tracking generation (changes when CBT is reset: new -ctk.vmdk). */
  readonly uuid: string;
  /** Grows with every stun; going backwards means the VM was reverted. */
  readonly seq: number;
}

export function parseChangeId(changeId: string): ParsedChangeId | undefined {
  const slash = changeId.lastIndexOf("/");
  if (slash <= 0) return undefined;
  const seq = changeId.slice(slash + 1);
  if (!/^\d{1,15}$/.test(seq)) return undefined;
  return { uuid: changeId.slice(0, slash), seq: Number(seq) };
}

/** Why the changes since `base` cannot be asked of CBT for `now`, or undefined when they can. */
export function resetReason(base: string, now: Omit<VmwareChangeToken, "v">): string | undefined {
  const previous = decodeToken(base);
  if (previous === undefined)
    return "the last point's token is not a VMware changeId (the disk was protected another way)";
  if (previous.capacity !== now.capacity) {
    return `the disk was resized from ${previous.capacity} to ${now.capacity} bytes, which resets CBT`;
  }
  if (previous.hardware !== now.hardware) {
    return `the virtual hardware changed from ${previous.hardware} to ${now.hardware}, so CBT cannot be trusted`;
  }
  if (previous.slot !== now.slot) {
    return `the disk moved from controller slot ${previous.slot} to ${now.slot}, so CBT cannot be trusted`;
  }
  const before = parseChangeId(previous.changeId);
  const after = parseChangeId(now.changeId);
  if (before === undefined || after === undefined) {
    return `a changeId is malformed (${JSON.stringify(previous.changeId)} → ${JSON.stringify(now.changeId)})`;
  }
  if (before.uuid !== after.uuid) {
    return "change tracking was reset (a new CBT generation: resize, Storage vMotion, or CBT turned off and on)";
  }
  if (after.seq <= before.seq) {
    return `the changeId sequence went from ${before.seq} to ${after.seq}: the VM was reverted to a snapshot`;
  }
  return undefined;
}
