import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readPe } from "./pe-image.ts";
import { MINGW_CXX, MINGW_OBJDUMP, ROOT, run, skipReason } from "./toolchain.ts";

const skip = skipReason([MINGW_CXX, MINGW_OBJDUMP]);
const buildDir = join(ROOT, "native", "windows", "build", "mingw");

describe.skipIf(skip !== undefined)("the Windows addon cross-compiled with MinGW-w64", () => {
  let build: { status: number; stdout: string; stderr: string };
  let image: ReturnType<typeof readPe>;
  let objdump: string;

  beforeAll(async () => {
    build = run("bash", [join(ROOT, "scripts/build-windows.sh")], ROOT);
    if (build.status !== 0) return;
    const target = join(buildDir, "lifeboat_windows.node");
    image = readPe(await readFile(target));
    objdump = run(MINGW_OBJDUMP, ["-p", target]).stdout;
  }, 180_000);

  it("compiles and links with no warnings at -Wall -Wextra", () => {
    expect(build.stderr).not.toMatch(/warning:|error:/);
    expect(build.status).toBe(0);
  });

  it("is a 64-bit PE DLL exporting the Node-API module entry", () => {
    expect(image.machine).toBe(0x8664);
    expect(image.isDll).toBe(true);
    expect(image.exports).toContain("napi_register_module_v1");
    // objdump reads the same export table independently.
    expect(objdump).toMatch(/\]\s+napi_register_module_v1/);
  });

  it("takes Node-API from node.exe and VSS, event log and COM from Windows, nothing from MinGW's DLLs", () => {
    const dlls = [...image.imports.keys()].map((d) => d.toLowerCase());
    expect(dlls).toContain("node.exe");
    expect(dlls).toEqual(expect.arrayContaining(["vssapi.dll", "wevtapi.dll", "ole32.dll", "kernel32.dll"]));
    expect(dlls.filter((d) => /libstdc|libgcc|winpthread/.test(d))).toEqual([]);
    const napi =
      image.imports.get([...image.imports.keys()].find((d) => d.toLowerCase() === "node.exe") ?? "") ?? [];
    expect(napi.length).toBeGreaterThan(10);
    expect(napi.every((s) => s.startsWith("napi_") || s.startsWith("node_api_"))).toBe(true);
    const vss = image.imports.get(
      [...image.imports.keys()].find((d) => d.toLowerCase() === "vssapi.dll") ?? "",
    );
    expect(vss).toEqual(expect.arrayContaining(["CreateVssBackupComponentsInternal"]));
  });
});
