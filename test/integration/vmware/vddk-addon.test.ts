/**
 * The native VDDK addon against the stand-in libvixDiskLib (same exported functions and struct
 * layouts as VDDK 7.0): loading, connecting, reading on worker threads, allocation queries, and
 * teardown on every path, including injected failures.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  closeAllVddk,
  openVddk,
  type ConnectParams,
  type NativeLibrary,
} from "../../../src/adapters/vmware-vddk/vddk/vddk-native.ts";
import { VddkSnapshotReader } from "../../../src/adapters/vmware-vddk/vddk/snapshot-reader.ts";
import { silentLog } from "../../../src/ports/log.ts";
import { pattern } from "./sim-harness.ts";
import { buildVddk, STANDIN_DIR } from "./vddk-harness.ts";

const skipReason = await buildVddk();
if (skipReason !== undefined) console.warn(`SKIPPING the VDDK addon tests: ${skipReason}`);

const MiB = 1 << 20;
const root = mkdtempSync(join(tmpdir(), "lifeboat-vddk-"));
const THUMB = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD";
const disk = pattern(8 * MiB, 42);
mkdirSync(join(root, "ds1", "web"), { recursive: true });
writeFileSync(join(root, "ds1", "web", "web-flat.vmdk"), disk);
writeFileSync(
  join(root, "vddk.conf"),
  `lifeboat.standin.datastoreRoot = ${root}\nlifeboat.standin.thumbprint = ${THUMB}\n`,
);

afterAll(() => rmSync(root, { recursive: true, force: true }));

const params: ConnectParams = {
  vmxSpec: "moref=vm-42",
  serverName: "vcenter.lab.local",
  thumbprint: THUMB,
  userName: "backup",
  password: "secret",
  snapshotRef: "snapshot-7",
  transportModes: "hotadd:nbdssl:nbd",
};

async function library(): Promise<NativeLibrary> {
  return openVddk(STANDIN_DIR, join(root, "vddk.conf"));
}

function faults(text: string): void {
  writeFileSync(join(root, ".standin-faults"), text);
}

describe.skipIf(skipReason !== undefined)("the VDDK addon with the stand-in library", () => {
  it("names the configured path when libvixDiskLib is missing", async () => {
    await expect(openVddk(join(root, "no-vddk-here"))).rejects.toMatchObject({
      code: "VDDK_LIBRARY_MISSING",
      message: expect.stringContaining(join(root, "no-vddk-here")),
    });
    mkdirSync(join(root, "empty-vddk", "lib64"), { recursive: true });
    await expect(openVddk(join(root, "empty-vddk"))).rejects.toMatchObject({
      code: "VDDK_LIBRARY_MISSING",
      message: expect.stringContaining(join(root, "empty-vddk", "lib64", "libvixDiskLib.so")),
    });
    writeFileSync(join(root, "not-a-library.so"), "garbage");
    await expect(openVddk(join(root, "not-a-library.so"))).rejects.toMatchObject({
      code: "VDDK_LIBRARY_MISSING",
    });
  });

  it("reads a disk exactly, through the first transport the library offers, without blocking the event loop", async () => {
    const lib = await library();
    const reader = await VddkSnapshotReader.open(lib, params, [{ id: "d0", path: "[ds1] web/web.vmdk" }], {
      log: silentLog,
    });
    expect(reader.transportMode).toBe("nbdssl");
    const parts = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => reader.read("d0", i * MiB, MiB)));
    expect(Buffer.concat(parts).equals(Buffer.from(disk))).toBe(true);
    // A read held up 400 ms inside the library must leave the event loop free meanwhile.
    faults("slow web/web.vmdk 400\n");
    const started = Date.now();
    let timerAt = 0;
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => resolve(void (timerAt = Date.now() - started)), 20),
    );
    const slowRead = reader.read("d0", 0, MiB).then(() => Date.now() - started);
    const [readAt] = await Promise.all([slowRead, timer]);
    faults("");
    expect(readAt).toBeGreaterThanOrEqual(380);
    expect(timerAt).toBeLessThan(200);
    // Unaligned reads come back exact too.
    expect(
      Buffer.from(await reader.read("d0", 1000, 3000)).equals(Buffer.from(disk.subarray(1000, 4000))),
    ).toBe(true);
    await reader.close();
    expect(lib.standinCounters()).toMatchObject({ connections: 0, handles: 0 });
  });

  it("reports allocated blocks of a sparse disk at 64 KiB", async () => {
    const sparse = join(root, "ds1", "web", "sparse-flat.vmdk");
    writeFileSync(sparse, "");
    const { truncateSync, openSync, writeSync, closeSync } = await import("node:fs");
    truncateSync(sparse, 16 * MiB);
    const fd = openSync(sparse, "r+");
    writeSync(fd, pattern(4096, 1), 0, 4096, 5 * MiB);
    closeSync(fd);
    const lib = await library();
    const reader = await VddkSnapshotReader.open(lib, params, [{ id: "s", path: "[ds1] web/sparse.vmdk" }], {
      log: silentLog,
    });
    const map = await reader.allocated("s", 16 * MiB);
    await reader.close();
    expect(map?.grain).toBe(64 * 1024);
    expect([...(map?.indexes() ?? [])]).toContain(80);
    expect(map?.count()).toBeLessThan(32);
  });

  it("fails a connect with a coded error and leaves nothing open (wrong thumbprint, injected fault, no transport)", async () => {
    const lib = await library();
    for (const bad of [
      { ...params, thumbprint: "00:00" },
      { ...params, transportModes: "san:hotadd" },
    ]) {
      await expect(
        VddkSnapshotReader.open(lib, bad, [{ id: "d0", path: "[ds1] web/web.vmdk" }], { log: silentLog }),
      ).rejects.toMatchObject({
        code: "VDDK_FAILED",
        message: expect.stringContaining("VixDiskLib_ConnectEx"),
      });
    }
    faults("connect vm-42 1\n");
    await expect(
      VddkSnapshotReader.open(lib, params, [{ id: "d0", path: "[ds1] web/web.vmdk" }], { log: silentLog }),
    ).rejects.toMatchObject({
      code: "VDDK_FAILED",
      message: expect.stringContaining("connection to the host was lost"),
    });
    expect(lib.standinCounters()).toMatchObject({ connections: 0, handles: 0 });
  });

  it("closes what it opened when a later disk fails to open", async () => {
    const lib = await library();
    const paths = [
      { id: "d0", path: "[ds1] web/web.vmdk" },
      { id: "d1", path: "[ds1] web/missing.vmdk" },
    ];
    await expect(VddkSnapshotReader.open(lib, params, paths, { log: silentLog })).rejects.toMatchObject({
      code: "VDDK_FAILED",
      message: expect.stringContaining("file was not found"),
    });
    expect(lib.standinCounters()).toMatchObject({ connections: 0, handles: 0 });
  });

  it("retries a read broken mid-disk on a fresh connection, and gives up with a coded error when it keeps failing", async () => {
    const lib = await library();
    const reader = await VddkSnapshotReader.open(lib, params, [{ id: "d0", path: "[ds1] web/web.vmdk" }], {
      log: silentLog,
      retryDelayMs: 1,
    });
    faults("read web/web.vmdk 3 2\n"); // reads 4 and 5 fail, as when a vMotion drops the NFC session
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) parts.push(await reader.read("d0", i * MiB, MiB));
    expect(Buffer.concat(parts).equals(Buffer.from(disk))).toBe(true);
    faults("read web/web.vmdk 0 100\n");
    await expect(reader.read("d0", 0, MiB)).rejects.toMatchObject({
      code: "VDDK_FAILED",
      message: expect.stringMatching(/failed 4 time/),
    });
    faults("");
    await reader.close();
    await reader.close();
    expect(lib.standinCounters()).toMatchObject({ connections: 0, handles: 0 });
  });

  it("exits the library (VixDiskLib_Exit) once every connection is closed", async () => {
    const lib = await library();
    expect(lib.standinCounters()?.initializations).toBe(1);
    await closeAllVddk();
    expect(lib.standinCounters()).toEqual({ initializations: 0, connections: 0, handles: 0 });
  });
});
