/** Builds native/vddk (addon + stand-in VDDK) for the tests; a build that cannot run skips loudly. */

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const NATIVE = fileURLToPath(new URL("../../../native/vddk/", import.meta.url));
export const STANDIN_DIR = `${NATIVE}build/standin`;
export const ADDON = `${NATIVE}build/vddk.node`;

/** Builds the addon and the stand-in; resolves to a reason string when that is impossible here. */
export async function buildVddk(): Promise<string | undefined> {
  try {
    await promisify(execFile)(`${NATIVE}build.sh`, [], { timeout: 300_000 });
  } catch (e) {
    return `native/vddk/build.sh failed: ${(e as Error).message}`;
  }
  return existsSync(ADDON) && existsSync(`${STANDIN_DIR}/lib64/libvixDiskLib.so`)
    ? undefined
    : "the VDDK build produced no files";
}
