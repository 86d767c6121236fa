/**
 * The native VDDK addon (native/vddk) seen from TypeScript: it is loaded lazily, it dlopens
 * libvixDiskLib from the configured path at run time, and every failure to find either is a coded
 * error that names the path it looked at.
 */

import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LifeboatError } from "../../../domain/errors.ts";

export const SECTOR = 512;
export const OPEN_READ_ONLY = 4;

export interface NativeDisk {
  info(): Promise<{ capacitySectors: number; links: number; transportMode: string }>;
  read(startSector: number, sectors: number, into: Buffer): Promise<void>;
  /** Flat [offset, length, …] in sectors. */
  queryAllocatedBlocks(startSector: number, sectors: number, chunkSectors: number): Promise<number[]>;
  close(): Promise<void>;
}

export interface NativeConnection {
  open(path: string, flags: number): Promise<NativeDisk>;
  disconnect(): Promise<void>;
}

export interface ConnectParams {
  readonly vmxSpec: string;
  readonly serverName: string;
  readonly thumbprint: string;
  readonly userName: string;
  readonly password: string;
  readonly port?: number;
  readonly snapshotRef: string;
  /** Colon-separated, in order of preference: `nbdssl:nbd`, `hotadd:nbdssl`, `san:nbd`… */
  readonly transportModes: string;
}

export interface NativeLibrary {
  init(libDir: string | null, configFile: string | null): Promise<void>;
  connect(params: ConnectParams): Promise<NativeConnection>;
  exit(): void;
  drainLog(): string[];
  /** Live objects in the test stand-in; undefined with a real VDDK. */
  standinCounters(): { initializations: number; connections: number; handles: number } | undefined;
}

interface Addon {
  load(path: string): NativeLibrary;
  abi: string;
}

const DEFAULT_ADDON = fileURLToPath(new URL("../../../../native/vddk/build/vddk.node", import.meta.url));

/** Where the addon is: LIFEBOAT_VDDK_ADDON, or native/vddk/build/vddk.node in this checkout. */
export function addonPath(): string {
  return process.env.LIFEBOAT_VDDK_ADDON ?? DEFAULT_ADDON;
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon !== undefined) return addon;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new LifeboatError("VDDK_LIBRARY_MISSING", `the VDDK addon is not built: ${path} does not exist`, {
      remedy:
        "Build it with native/vddk/build.sh (needs g++ and make), or set LIFEBOAT_VDDK_ADDON to a built vddk.node.",
    });
  }
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}

/**
 * The libvixDiskLib file for a configured location: the library itself, or a VDDK directory
 * (`vmware-vix-disklib-distrib`, holding `lib64/libvixDiskLib.so`).
 */
export function libraryFile(configured: string): string {
  let file = configured;
  try {
    if (statSync(configured).isDirectory()) file = join(configured, "lib64", "libvixDiskLib.so");
  } catch (e) {
    throw new LifeboatError(
      "VDDK_LIBRARY_MISSING",
      `the configured VDDK location ${configured} does not exist`,
      { cause: e },
    );
  }
  if (!existsSync(file)) {
    throw new LifeboatError(
      "VDDK_LIBRARY_MISSING",
      `no libvixDiskLib.so at ${file} (configured VDDK location ${configured})`,
    );
  }
  return file;
}

const libraries = new Map<string, { library: NativeLibrary; ready: Promise<void> }>();

/** Loads and initialises VDDK once per process and library path (VixDiskLib_InitEx must run once). */
export async function openVddk(configured: string, configFile?: string): Promise<NativeLibrary> {
  const file = libraryFile(configured);
  let entry = libraries.get(file);
  if (entry === undefined) {
    let library: NativeLibrary;
    try {
      library = loadAddon().load(file);
    } catch (e) {
      throw vddkError(e, `loading ${file}`);
    }
    const libDir = file.endsWith(join("lib64", "libvixDiskLib.so")) ? join(file, "..", "..") : null;
    entry = { library, ready: library.init(libDir, configFile ?? null) };
    libraries.set(file, entry);
  }
  try {
    await entry.ready;
  } catch (e) {
    libraries.delete(file);
    throw vddkError(e, "VixDiskLib_InitEx");
  }
  return entry.library;
}

/** VixDiskLib_Exit for every library this process initialised (call once no connection is open). */
export async function closeAllVddk(): Promise<void> {
  for (const [file, entry] of libraries) {
    libraries.delete(file);
    try {
      await entry.ready;
      entry.library.exit();
    } catch {
      // An initialisation that failed has nothing to exit.
    }
  }
}

/** A native failure as a coded error (the addon tags errors with `code` and `vixError`). */
export function vddkError(e: unknown, context: string): LifeboatError {
  if (e instanceof LifeboatError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code === "VDDK_LIBRARY_MISSING" ? "VDDK_LIBRARY_MISSING" : "VDDK_FAILED";
  return new LifeboatError(code, `${context}: ${err.message ?? String(e)}`, { cause: e });
}
