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
  STORE_AUTH: {
    kind: "input",
    remedy:
      "Check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment, and that the key may read, write and list the bucket.",
  },
  BUCKET_NOT_FOUND: {
    kind: "input",
    remedy:
      "Create the bucket first (Lifeboat never creates buckets), or fix BUCKET in s3://BUCKET/PREFIX and the endpoint in LIFEBOAT_S3_ENDPOINT.",
  },
  STORE_UNSUPPORTED: {
    kind: "input",
    remedy:
      "Use an S3 server that honours conditional writes (If-None-Match: * on PUT), such as AWS S3, Ceph RGW 16+ or MinIO; without them two agents could both commit one restore point.",
  },
  MAINTENANCE_RUNNING: {
    kind: "job",
    remedy: "Nothing to do: the sync retries once the repository maintenance run (prune/GC) has finished.",
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
  PLATFORM_UNSUPPORTED: {
    kind: "input",
    remedy:
      "Run this on the platform it needs (the Windows agent runs on Windows); elsewhere, collect the inventory on the host and use `lifeboat preflight --inventory FILE`.",
  },
  SOURCE_READ: {
    kind: "job",
    remedy: "Check the source disk; the next sync retries from the last committed point.",
  },
  VERIFY_FAILED: {
    kind: "job",
    remedy: "The named restore point differs from its source snapshot; report a bug.",
  },
  LAYOUT_INVALID: {
    kind: "input",
    remedy:
      "The partition table is damaged or inconsistent; Lifeboat syncs the affected area at full size. Check it with `sfdisk -V` or `sgdisk -v` and repair it if the disk should be read by other tools.",
  },
  NTFS_INVALID: {
    kind: "input",
    remedy:
      "The NTFS volume is damaged, dirty or not NTFS; Lifeboat syncs it at full size. Run `chkdsk /f` (or `ntfsfix -n` to inspect) to sync only its allocated clusters.",
  },
  DYNAMIC_VOLUME_UNSUPPORTED: {
    kind: "input",
    remedy:
      "Only simple and spanned dynamic volumes are supported; convert mirrored, striped or RAID-5 volumes to simple volumes (or protect the disk with another tool).",
  },
  TOOL_MISSING: {
    kind: "input",
    remedy: "Install the named tool (the Debian packages are listed in .ci/apt-packages.txt) and run again.",
  },
  NBD_URI_INVALID: {
    kind: "input",
    remedy:
      "Write the URI as nbd://HOST[:PORT]/EXPORT, nbds://… for TLS, or nbd+unix:///EXPORT?socket=PATH (see docs/nbd.md).",
  },
  NBD_CONNECT: {
    kind: "job",
    remedy:
      "Check that the NBD server is running and reachable at the URI (host and port, or socket path) and that its TLS setting matches the URI (nbds:// when it requires TLS).",
  },
  NBD_EXPORT_NOT_FOUND: {
    kind: "input",
    remedy: "Name an export the server offers; list them with `nbdinfo --list URI`.",
  },
  NBD_PROTOCOL: {
    kind: "job",
    remedy:
      "The peer broke the NBD protocol: check that the URI points at an NBD server (qemu-nbd, nbdkit), and report the log.",
  },
  NBD_TIMEOUT: {
    kind: "job",
    remedy:
      "The NBD server did not answer in time: check its load and the network, or raise ?timeout=SECONDS in the URI.",
  },
  NBD_LISTEN: {
    kind: "input",
    remedy: "Choose a free address with --listen HOST:PORT (port 0 picks one) or --listen unix:PATH.",
  },
  TARGET_READ_ONLY: {
    kind: "input",
    remedy: "Export the target disk writable (drop -r/--readonly on the NBD server) and run again.",
  },
  VSPHERE_UNREACHABLE: {
    kind: "job",
    remedy:
      "Check the vCenter/ESXi address, that the proxy reaches its port 443, and the network in between; the next sync retries.",
  },
  VSPHERE_TLS_UNTRUSTED: {
    kind: "input",
    remedy:
      "Compare the thumbprint in the message with the one vCenter shows (Administration › Certificates) or `openssl x509 -fingerprint` on the host, then pin it with --thumbprint or `thumbprint` in the proxy configuration.",
  },
  VSPHERE_CREDENTIALS_REQUIRED: {
    kind: "input",
    remedy:
      "Set LIFEBOAT_VSPHERE_USER and LIFEBOAT_VSPHERE_PASSWORD (or `passwordFile` in the proxy configuration); passwords are never taken from flags.",
  },
  VSPHERE_LOGIN_FAILED: {
    kind: "input",
    remedy: "Check the vSphere user name and password, and that the account is not locked out.",
  },
  VSPHERE_NO_PERMISSION: {
    kind: "input",
    remedy:
      "Grant the backup account's role the named privilege on the VM and its datastores (`lifeboat preflight` lists every missing one).",
  },
  VSPHERE_VERSION_UNSUPPORTED: {
    kind: "input",
    remedy: "Lifeboat needs the vSphere API 4.0 or newer (vCenter 5.1–8.0, ESXi 5.0–8.0).",
  },
  VSPHERE_FAULT: {
    kind: "job",
    remedy:
      "Read the fault text and check the VM's recent tasks in vCenter; the next sync retries from the last committed point.",
  },
  VSPHERE_REPLY_INVALID: {
    kind: "job",
    remedy:
      "The server sent a reply that breaks the vSphere API contract; check for a proxy or load balancer in between, and report the reply if vSphere itself sent it.",
  },
  VM_NOT_FOUND: {
    kind: "input",
    remedy:
      "Check the VM name, or name it by inventory path (DATACENTER/vm/FOLDER/NAME) or by instance UUID.",
  },
  VM_AMBIGUOUS: {
    kind: "input",
    remedy: "Several VMs carry this name; name the VM by inventory path or by instance UUID instead.",
  },
  VDDK_LIBRARY_MISSING: {
    kind: "input",
    remedy:
      "Install VMware's VDDK on the proxy and point `vddk.libdir` in the proxy configuration at it (the directory holding lib64/libvixDiskLib.so), or build the native addon with native/vddk/build.sh.",
  },
  VDDK_FAILED: {
    kind: "job",
    remedy:
      "Check that the proxy reaches the ESXi hosts on port 902 (nbd/nbdssl) or has SAN/HotAdd access for the chosen transport; the next sync retries from the last committed point.",
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
