/**
 * The error catalogue. Every failure an operator can see carries a stable code, a cause they can
 * read and a remedy they can act on. Codes are part of the CLI contract: add, never rename.
 */

/** How the CLI reports a failure: bad usage/input/precondition exits 2, a failed job exits 1. */
export type ErrorKind = "input" | "job";

interface CatalogueEntry {
  readonly kind: ErrorKind;
  readonly remedy: string;
  /** The seeds' numeric code where one exists (VSS failures), so operators can cross-reference. */
  readonly legacyCode?: number;
}

export const ERROR_CATALOGUE = {
  USAGE: { kind: "input", remedy: "Run the command with --help to see its options." },
  CONFIG_INVALID: { kind: "input", remedy: "Fix the named field in the configuration and run again." },
  SOURCE_NOT_FOUND: {
    kind: "input",
    remedy: "Check the source path or name; it must exist and be readable.",
  },
  SOURCE_UNSUPPORTED: { kind: "input", remedy: "Use a supported source: image:PATH, sim:SPEC or nbd://…" },
  REPO_NOT_FOUND: {
    kind: "input",
    remedy: "Create the repository with `lifeboat repo init --repo REPO`, or check the path.",
  },
  REPO_EXISTS: {
    kind: "input",
    remedy: "Choose an empty location; an existing repository is never overwritten.",
  },
  REPO_FORMAT_UNSUPPORTED: {
    kind: "input",
    remedy: "Use a Lifeboat release that supports this repository format version.",
  },
  REPO_CONFIG_CORRUPT: {
    kind: "job",
    remedy: "Restore lifeboat.json from a copy; the repository cannot be opened without it.",
  },
  PASSWORD_REQUIRED: {
    kind: "input",
    remedy: "Set LIFEBOAT_PASSWORD or pass --password-file FILE for this encrypted repository.",
  },
  PASSWORD_WRONG: { kind: "input", remedy: "Supply the passphrase the repository was created with." },
  OBJECT_CORRUPT: {
    kind: "job",
    remedy: "Run `lifeboat verify` to list every damaged object; the next backup re-uploads damaged chunks.",
  },
  OBJECT_MISSING: {
    kind: "job",
    remedy: "Run `lifeboat verify`; a missing object means the repository was modified outside Lifeboat.",
  },
  POINT_NOT_FOUND: { kind: "input", remedy: "List the restore points with `lifeboat points --repo REPO`." },
  DISK_NOT_FOUND: {
    kind: "input",
    remedy: "Name one of the point's disks with --disk (see `lifeboat points`).",
  },
  DISK_REQUIRED: {
    kind: "input",
    remedy: "This point holds several disks: pass --disk DISK, or --to a directory to restore them all.",
  },
  BASE_NOT_LATEST: {
    kind: "input",
    remedy:
      "Changed extents must be relative to the last committed point; pass that point as --base, or omit --changed-extents to detect changes by hashing.",
  },
  EXTENTS_INVALID: {
    kind: "input",
    remedy: 'Write one "OFFSET LENGTH" pair of byte counts per line, inside the disk.',
  },
  TARGET_TOO_SMALL: { kind: "input", remedy: "Restore to a target at least as large as the source disk." },
  TARGET_IO: { kind: "job", remedy: "Check the target device or file system and retry." },
  STORE_IO: {
    kind: "job",
    remedy: "Check the repository's storage (space, permissions, network) and retry.",
  },
  STORE_FULL: {
    kind: "job",
    remedy: "Free space on the repository's storage, then retry; nothing committed is lost.",
  },
  CONFLICT: {
    kind: "job",
    remedy: "Another job committed the same restore point; run `lifeboat points` and retry the backup.",
  },
  SNAPSHOT_ABORTED: {
    kind: "job",
    legacyCode: 154000,
    remedy:
      "Reduce write I/O during the sync window or move the snapshot diff area to another volume; the next sync retries the same increment.",
  },
  SNAPSHOT_FAILED: {
    kind: "job",
    legacyCode: 153315,
    remedy: "Check the snapshot provider's event log; the next sync retries.",
  },
  CHANGE_TRACKING_LOST: {
    kind: "job",
    legacyCode: 154001,
    remedy: "None needed: the next sync resynchronises by content hash and stores only what changed.",
  },
  PREFLIGHT_FAILED: {
    kind: "input",
    remedy: "Run `lifeboat preflight` to see each finding and its remedy, fix them, then register again.",
  },
  SOURCE_READ: {
    kind: "job",
    remedy: "Check the source disk; the next sync retries from the last committed point.",
  },
  VERIFY_FAILED: {
    kind: "job",
    remedy: "The named restore point differs from its source snapshot; report a bug.",
  },
  INTERNAL: { kind: "job", remedy: "This is a bug in Lifeboat; report it with the log." },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly remedy: string;
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; remedy?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry: CatalogueEntry = ERROR_CATALOGUE[code];
    this.name = "LifeboatError";
    this.code = code;
    this.kind = entry.kind;
    this.remedy = options.remedy ?? entry.remedy;
  }

  get legacyCode(): number | undefined {
    return (ERROR_CATALOGUE[this.code] as CatalogueEntry).legacyCode;
  }

  toJSON(): { code: ErrorCode; message: string; remedy: string } {
    return { code: this.code, message: this.message, remedy: this.remedy };
  }
}

export function isLifeboatError(e: unknown, code?: ErrorCode): e is LifeboatError {
  return e instanceof LifeboatError && (code === undefined || e.code === code);
}
