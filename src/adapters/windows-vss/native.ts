/**
 * The native boundary of the Windows agent: what the adapter needs from the host, and nothing
 * more. On Windows it is the addon (native/windows) plus two commands; on any platform a simulated
 * host can stand behind the same interface (simulated/sim-native.ts), so everything above it — the
 * VSS sequence's use, IOCTL encoding and parsing, error mapping, change tracking — is the same code.
 */

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { LifeboatError } from "../../domain/errors.ts";

/** An open handle on a disk, volume, shadow copy or file. */
export interface NativeDevice {
  /** DeviceIoControl. `more` is true when the call ended with ERROR_MORE_DATA (a partial answer). */
  ioctl(
    code: number,
    input: Uint8Array | null,
    outputCapacity: number,
  ): Promise<{ bytes: Uint8Array; more: boolean }>;
  /** A positional read; may be short only at the end of the device. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): void;
}

export interface DeviceOptions {
  /** "query": no data access (enough for layout IOCTLs); "read": GENERIC_READ. */
  readonly access: "read" | "query";
  /** FILE_FLAG_NO_BUFFERING: reads bypass the cache (sector-aligned offsets and lengths). */
  readonly unbuffered?: boolean;
}

export interface ShadowCopyInfo {
  readonly volume: string;
  readonly snapshotId: string;
  readonly device: string;
}

export interface WriterInfo {
  readonly name: string;
  readonly writerId: string;
  readonly instanceId: string;
  /** VSS_WRITER_STATE: 1 stable … 6–15 failed at some step. */
  readonly state: number;
  readonly failure: number;
}

export interface ShadowSet {
  readonly setId: string;
  readonly shadowCopies: readonly ShadowCopyInfo[];
  readonly writers: readonly WriterInfo[];
}

export interface CloseOutcome {
  readonly ok: boolean;
  readonly step?: string;
  readonly hresult?: number;
  readonly cleanupFailures: readonly string[];
}

/** One VSS snapshot set: created once, closed once (the addon deletes it on every path). */
export interface NativeVssSession {
  create(
    volumes: readonly string[],
    options: { backupType?: "copy" | "full"; writers?: boolean },
  ): Promise<ShadowSet>;
  close(succeeded: boolean): Promise<CloseOutcome>;
}

export interface HostFacts {
  readonly hostName?: string;
  readonly os: {
    major: number;
    minor: number;
    build: number;
    servicePackMajor: number;
    productType: number;
  } | null;
  readonly firmware: "uefi" | "bios" | "unknown";
  readonly elevated: boolean | null;
  /** PROCESSOR_ARCHITECTURE_*: 9 AMD64, 12 ARM64, 0 x86. */
  readonly processorArchitecture: number;
  readonly processors: number;
  readonly totalMemory?: number;
  readonly availableMemory?: number;
  readonly ansiCodePage: number;
  readonly oemCodePage: number;
  readonly hypervisor: { present: boolean; vendor?: string };
  readonly uptimeMs: number;
  /** \\?\Volume{…}\ holding the Windows directory. */
  readonly windowsVolume?: string;
}

export interface ServiceFacts {
  readonly name: string;
  readonly displayName: string;
  /** SERVICE_STOPPED 1 … SERVICE_RUNNING 4 … SERVICE_PAUSED 7. */
  readonly state: number;
  /** SERVICE_AUTO_START 2, SERVICE_DEMAND_START 3, SERVICE_DISABLED 4. */
  readonly startType?: number;
  readonly binaryPath?: string;
}

export interface VolumeFacts {
  readonly guidPath: string;
  readonly mountPoints: readonly string[];
  readonly label?: string;
  readonly fileSystem: string;
  readonly serial?: number;
  readonly totalBytes?: number;
  readonly freeBytes?: number;
  readonly clusterSize?: number;
  /** GetDriveType: 2 removable, 3 fixed, 4 remote, 5 CD-ROM, 6 RAM disk. */
  readonly driveType: number;
  readonly error?: string;
}

export interface TimeSyncFacts {
  /** The Windows Time service. */
  readonly service: "running" | "stopped" | "disabled" | "missing";
  /** Last successful synchronisation, ms since the epoch, if any. */
  readonly lastSyncAt?: number;
  readonly source?: string;
}

/** Everything below the boundary. */
export interface WindowsNative {
  /** A human label: "windows" or "simulated host …". */
  readonly kind: string;
  openDevice(path: string, options: DeviceOptions): NativeDevice;
  /** Opens a file by NTFS file reference on a volume (8 bytes, or 16 when `extended`). */
  openFileById(volumeRoot: string, fileId: Uint8Array, extended: boolean): NativeDevice;
  createVssSession(): NativeVssSession;
  /** EvtQuery: events of `channel` matching `xpath`, as XML, oldest first. */
  queryEvents(channel: string, xpath: string, maxEvents: number): Promise<string[]>;
  hostFacts(): HostFacts;
  services(): ServiceFacts[];
  volumes(): VolumeFacts[];
  timeSync(): Promise<TimeSyncFacts>;
  hotfixes(): Promise<string[]>;
  /** Time on the host, ms since the epoch (virtual on a simulated host). */
  now(): number;
}

/** What the addon throws: a Win32 error (`win32`) or a VSS step's HRESULT (`hresult`). */
export interface NativeError extends Error {
  readonly win32?: number;
  readonly hresult?: number;
  readonly syscall?: string;
  readonly step?: string;
}

export function win32Code(e: unknown): number | undefined {
  return typeof e === "object" && e !== null && typeof (e as NativeError).win32 === "number"
    ? (e as NativeError).win32
    : undefined;
}

export function hresultOf(e: unknown): number | undefined {
  return typeof e === "object" && e !== null && typeof (e as NativeError).hresult === "number"
    ? (e as NativeError).hresult
    : undefined;
}

/** The shape the compiled addon exports (native/windows/src/addon.cc). */
interface Addon {
  Device: (new (path: string, options: DeviceOptions) => NativeDevice) & {
    openById(root: string, id: Uint8Array, extended: boolean): NativeDevice;
  };
  VssSession: new () => NativeVssSession;
  queryEvents(channel: string, xpath: string, max: number): Promise<string[]>;
  hostFacts(): HostFacts;
  services(): ServiceFacts[];
  volumes(): VolumeFacts[];
  abiVersion: number;
}

const ADDON_CANDIDATES = [
  "../../../native/windows/build/Release/lifeboat_windows.node",
  "../../../native/windows/build/mingw/lifeboat_windows.node",
];

/**
 * Loads the addon on Windows. Anywhere else, or when the addon was not built, the error says so
 * and what to do instead.
 */
export function loadWindowsNative(commands: Pick<WindowsNative, "timeSync" | "hotfixes">): WindowsNative {
  if (process.platform !== "win32") {
    throw new LifeboatError(
      "PLATFORM_UNSUPPORTED",
      `the Windows agent needs Windows; this is ${process.platform}`,
    );
  }
  const candidates = [
    ...(process.env.LIFEBOAT_WINDOWS_ADDON === undefined ? [] : [process.env.LIFEBOAT_WINDOWS_ADDON]),
    ...ADDON_CANDIDATES.map((p) => fileURLToPath(new URL(p, import.meta.url))),
  ];
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    throw new LifeboatError(
      "PLATFORM_UNSUPPORTED",
      `the Windows addon is not built (looked in ${candidates.join(", ")})`,
      {
        remedy:
          "Build it with `npx node-gyp rebuild --directory native/windows` on Windows, or `npm run build:windows` on Linux.",
      },
    );
  }
  const addon = createRequire(import.meta.url)(path) as Addon;
  return {
    kind: "windows",
    openDevice: (p, options) => new addon.Device(p, options),
    openFileById: (root, id, extended) => addon.Device.openById(root, id, extended),
    createVssSession: () => new addon.VssSession(),
    queryEvents: (channel, xpath, max) => addon.queryEvents(channel, xpath, max),
    hostFacts: () => addon.hostFacts(),
    services: () => addon.services(),
    volumes: () => addon.volumes(),
    timeSync: () => commands.timeSync(),
    hotfixes: () => commands.hotfixes(),
    now: () => Date.now(),
  };
}
