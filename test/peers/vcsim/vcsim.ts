/**
 * Starts govmomi's vSphere simulator (built from Debian's golang-github-vmware-govmomi-dev by
 * build.sh) on 127.0.0.1 and a free port, for the conformance tests. The process exits when its
 * stdin closes, so a crashed test run cannot leak it.
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const BINARY = fileURLToPath(new URL("../../../.tmp/vcsim/vcsim", import.meta.url));

export interface Vcsim {
  readonly url: string;
  /** SHA-1 thumbprint of its certificate, colon-separated upper-case hex. */
  readonly thumbprint: string;
  readonly user: string;
  readonly password: string;
  stop(): Promise<void>;
}

/** Builds (if needed) and starts vcsim; resolves to a reason string when it cannot run here. */
export async function startVcsim(): Promise<Vcsim | string> {
  if (!existsSync("/usr/share/gocode/src/github.com/vmware/govmomi/simulator")) {
    return "govmomi's simulator is not installed (apt-get install golang-go golang-github-vmware-govmomi-dev)";
  }
  try {
    await promisify(execFile)(`${HERE}build.sh`, [BINARY], { timeout: 300_000 });
  } catch (e) {
    return `building vcsim failed: ${(e as Error).message}`;
  }
  const user = "lifeboat-backup";
  const password = randomBytes(12).toString("base64url");
  const child: ChildProcess = spawn(BINARY, ["-user", user, "-pass", password], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`vcsim did not start: ${err}`)), 30_000);
    child.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`vcsim exited with ${code}: ${err}`));
    });
  });
  const [, url, thumbprint] = line.split(" ");
  if (url === undefined || thumbprint === undefined) throw new Error(`unexpected vcsim banner: ${line}`);
  return {
    url,
    thumbprint,
    user,
    password,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin?.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
