/**
 * Why a shadow copy could not be made or was lost, in the seeds' terms: VolSnap events from the
 * System log (the seeds' table of ids 1–41) and VSS HRESULTs, mapped to Lifeboat's codes —
 * SNAPSHOT_FAILED (153315), SNAPSHOT_ABORTED (154000) — with the event as the cause and the seeds'
 * remedies (reduce I/O, move the diff area to a volume that is not synced, keep 10 % free).
 */

import { LifeboatError } from "../../domain/errors.ts";

export interface VolSnapEvent {
  readonly eventId: number;
  /** ms since the epoch. */
  readonly timeCreated: number;
  /** The insertion strings: %1, %2 (the shadowed volume), %3 (the diff-area volume), … */
  readonly data: readonly string[];
}

type Kind = "abort" | "create" | "warning";

interface EventMeaning {
  readonly kind: Kind;
  readonly message: string;
  readonly remedy: string;
}

const MOVE_DIFF_AREA =
  "move the shadow storage to a volume that is not synced (`vssadmin add shadowstorage /For=%2 /On=OTHER: /MaxSize=20%`, the seeds' VSS_SPEC_MAX setting)";
const RETRY = "the next sync retries the same increment from the last committed point";

/** The seeds' VolSnap table (000/001 Windows Agent, "Common Issues"). */
export const VOLSNAP_EVENTS: Readonly<Record<number, EventMeaning>> = {
  1: {
    kind: "create",
    message: "Cannot create volume %2 shadow copy diff area file on volume %3.",
    remedy: `Free space on %3 (keep ≥ 10 % free) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  2: {
    kind: "create",
    message:
      "Cannot create volume %2 shadow copy because volume %3 specified as part of the diff area is not an NTFS volume.",
    remedy: "Place the shadow storage on an NTFS volume (`vssadmin add shadowstorage`).",
  },
  3: {
    kind: "create",
    message: "Cannot lock the location of volume %2 shadow copy diff area file on volume %3.",
    remedy: `Check %3 for disk errors (chkdsk) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  14: {
    kind: "abort",
    message: "Volume %2 shadow copy has been aborted due to IO failure on volume %3.",
    remedy: `Check the disk holding %3 (System log, disk errors); ${RETRY}.`,
  },
  16: {
    kind: "abort",
    message:
      "Volume %2 shadow copy has been aborted due to the volume %3 containing the shadow copy diff area file being forcibly dismounted.",
    remedy: `Do not dismount %3 during a sync; ${RETRY}.`,
  },
  23: {
    kind: "create",
    message:
      "Cannot create volume %2 shadow copy due to insufficient disk space on volume %3. Diff area file creation failed.",
    remedy: `Free space on %3 (keep ≥ 10 % free) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  24: {
    kind: "warning",
    message:
      "Cannot expand volume %2 shadow copy diff area due to insufficient disk space on volume %3; all volume %2 shadow copies are at risk of being deleted.",
    remedy: `Free space on %3 (keep ≥ 10 % free) or ${MOVE_DIFF_AREA}.`,
  },
  25: {
    kind: "abort",
    message: "Volume %2 shadow copy has been aborted due to the diff area file not growing in time.",
    remedy: `Reduce write I/O during the sync window (pause other backups, heavy database jobs) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  33: {
    kind: "abort",
    message:
      "Deleted the oldest volume %2 shadow copy to keep shadow copy disk space usage below user-defined limits.",
    remedy: `Raise the shadow storage limit (\`vssadmin resize shadowstorage /For=%2 /On=%3 /MaxSize=20%\`) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  35: {
    kind: "abort",
    message: "Volume %2 shadow copy has been aborted due to the diff area file not growing.",
    remedy: `Reduce write I/O during the sync window or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  36: {
    kind: "abort",
    message:
      "Volume %2 shadow copy has been aborted due to user-set limits preventing the diff area file from growing.",
    remedy: `Raise the shadow storage limit (\`vssadmin resize shadowstorage /For=%2 /On=%3 /MaxSize=20%\`) or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
  38: {
    kind: "warning",
    message:
      "User-set limits prevented the use of disk space on volume %3 to expand volume %2 shadow copy diff area; all volume %2 shadow copies are at risk of being deleted.",
    remedy: "Raise the shadow storage limit (`vssadmin resize shadowstorage`).",
  },
  40: {
    kind: "abort",
    message: "Volume %2 shadow copy has been aborted due to volume %3 being dismounted.",
    remedy: `Do not dismount %3 during a sync; ${RETRY}.`,
  },
  41: {
    kind: "create",
    message:
      "When preparing a new shadow copy for volume %2, the shadow copy storage on volume %3 did not have a large enough contiguous block.",
    remedy: `Delete unneeded files on %3 or ${MOVE_DIFF_AREA}; ${RETRY}.`,
  },
};

export const VOLSNAP_IDS = Object.keys(VOLSNAP_EVENTS).map(Number);

/** The EvtQuery XPath for VolSnap events at or after `sinceMs`. */
export function volSnapQuery(sinceMs: number): string {
  const ids = VOLSNAP_IDS.map((id) => `EventID=${id}`).join(" or ");
  const since = new Date(Math.max(0, sinceMs)).toISOString();
  return `*[System[Provider[@Name='volsnap' or @Name='VolSnap'] and (${ids}) and TimeCreated[@SystemTime>='${since}']]]`;
}

/** Reads what we need from an event's XML (EvtRender, EvtRenderEventXml). */
export function parseEventXml(xml: string): VolSnapEvent | undefined {
  const id = /<EventID(?:\s[^>]*)?>(\d+)<\/EventID>/.exec(xml)?.[1];
  const time = /<TimeCreated\s+SystemTime=['"]([^'"]+)['"]/.exec(xml)?.[1];
  if (id === undefined || time === undefined) return undefined;
  const data = [...xml.matchAll(/<Data(?:\s[^>]*)?>([^<]*)<\/Data>|<Data(?:\s[^>]*)?\/>/g)].map((m) =>
    unescapeXml(m[1] ?? ""),
  );
  const timeCreated = Date.parse(time);
  return Number.isNaN(timeCreated) ? undefined : { eventId: Number(id), timeCreated, data };
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Fills %2, %3 … with the event's insertion strings (%1 is the first). */
function fill(template: string, data: readonly string[]): string {
  return template.replace(/%(\d)/g, (whole, n: string) => data[Number(n) - 1] ?? whole);
}

/**
 * The error for a shadow copy that failed or was lost, built from the VolSnap events logged since
 * it was requested; `fallback` describes what we saw ourselves when the log says nothing.
 */
export function volSnapError(
  kind: "abort" | "create",
  events: readonly VolSnapEvent[],
  fallback: string,
  cause?: unknown,
): LifeboatError {
  const code = kind === "abort" ? "SNAPSHOT_ABORTED" : "SNAPSHOT_FAILED";
  const relevant = events.filter((e) => VOLSNAP_EVENTS[e.eventId] !== undefined);
  const primary =
    relevant.find((e) => VOLSNAP_EVENTS[e.eventId]?.kind === kind) ??
    relevant.find((e) => VOLSNAP_EVENTS[e.eventId]?.kind !== "warning") ??
    relevant[0];
  if (primary === undefined) return new LifeboatError(code, fallback, cause === undefined ? {} : { cause });
  const meaning = VOLSNAP_EVENTS[primary.eventId] as EventMeaning;
  const others = relevant.filter((e) => e !== primary).map((e) => e.eventId);
  const message =
    `${fallback}: VolSnap event ${primary.eventId}: ${fill(meaning.message, primary.data)}` +
    (others.length === 0 ? "" : ` (also VolSnap events ${[...new Set(others)].join(", ")})`);
  return new LifeboatError(code, message, {
    remedy: fill(meaning.remedy, primary.data),
    ...(cause === undefined ? {} : { cause }),
  });
}

interface HResultMeaning {
  readonly name: string;
  readonly remedy: string;
}

const HRESULTS: Readonly<Record<number, HResultMeaning>> = {
  0x80042316: {
    name: "VSS_E_SNAPSHOT_SET_IN_PROGRESS: another shadow copy is being created",
    remedy:
      "Another VSS requester (Acronis, Veeam, Veritas, Commvault…) is snapshotting: stop or reschedule it; the next sync retries.",
  },
  0x80042317: {
    name: "VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED",
    remedy: "Delete old shadow copies (`vssadmin delete shadows /For=C: /Oldest`); the next sync retries.",
  },
  0x8004231f: {
    name: "VSS_E_INSUFFICIENT_STORAGE: not enough space for the shadow copy's diff area",
    remedy:
      "Free space on the volume (keep ≥ 10 % free) or move the shadow storage to another volume (`vssadmin add shadowstorage`).",
  },
  0x8004230c: {
    name: "VSS_E_VOLUME_NOT_SUPPORTED",
    remedy:
      "The volume cannot be shadow-copied (not NTFS/ReFS): exclude its disk, or it is synced at full capacity without a snapshot.",
  },
  0x8004230e: {
    name: "VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER",
    remedy: "Use the Microsoft software shadow copy provider for this volume.",
  },
  0x80042313: {
    name: "VSS_E_FLUSH_WRITES_TIMEOUT: the file system could not flush in time",
    remedy: "Reduce write I/O during the sync window; the next sync retries.",
  },
  0x80042314: {
    name: "VSS_E_HOLD_WRITES_TIMEOUT: writes could not be held long enough",
    remedy: "Reduce write I/O during the sync window; the next sync retries.",
  },
  0x80042318: {
    name: "VSS_E_WRITER_INFRASTRUCTURE: the VSS writer infrastructure is not working",
    remedy:
      "Run `vssadmin list writers`; restart the Volume Shadow Copy service (and the failing writer's service).",
  },
  0x8004230f: {
    name: "VSS_E_UNEXPECTED_PROVIDER_ERROR",
    remedy: "Check the System and Application logs for VSS and VolSnap errors; the next sync retries.",
  },
  0x80042306: {
    name: "VSS_E_PROVIDER_VETO",
    remedy: "Check the Application log for the provider's reason; the next sync retries.",
  },
  0x80042312: {
    name: "VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED",
    remedy: "Exclude disks so fewer volumes are in one snapshot set.",
  },
  0x8004232c: {
    name: "VSS_E_NESTED_VOLUME_LIMIT",
    remedy: "Exclude the disk holding the nested (VHD-mounted) volume.",
  },
  0x80070005: { name: "E_ACCESSDENIED", remedy: "Run the agent as an administrator (or LocalSystem)." },
};

/** A failed VSS step (the addon's `hresult` and `step`) as SNAPSHOT_FAILED with a remedy. */
export function vssStepError(
  step: string,
  hresult: number,
  events: readonly VolSnapEvent[],
  cause?: unknown,
): LifeboatError {
  const hex = `0x${(hresult >>> 0).toString(16).padStart(8, "0")}`;
  const meaning = HRESULTS[hresult >>> 0];
  const base = `VSS ${step} failed with ${hex}${meaning === undefined ? "" : ` (${meaning.name})`}`;
  const fromLog = volSnapError("create", events, base, cause);
  if (fromLog.message !== base || meaning === undefined) return fromLog;
  return new LifeboatError("SNAPSHOT_FAILED", base, {
    remedy: meaning.remedy,
    ...(cause === undefined ? {} : { cause }),
  });
}
