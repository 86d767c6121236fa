/**
 * Real NBD peers for the integration tests: nbdkit (memory, file, with error/delay filters),
 * qemu-nbd (qcow2 with persistent dirty bitmaps) and `lifeboat serve-nbd` itself, each started on
 * loopback or a unix socket in a temp directory and always stopped. Client tools (nbdcopy, nbdinfo,
 * qemu-img, qemu-io) are run with bounded time.
 */

import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const BIN = fileURLToPath(new URL("../../../bin/lifeboat.js", import.meta.url));
const TOOLS = ["nbdkit", "qemu-nbd", "qemu-img", "qemu-io", "nbdinfo", "nbdcopy", "openssl"];

/** Why the NBD peers cannot run here, or undefined. A skip must be loud. */
export function nbdPeersUnavailable(): string | undefined {
  const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length === 0) return undefined;
  const reason = `NBD peers missing (${missing.join(", ")}; apt-get install nbdkit libnbd-bin qemu-utils openssl): the NBD integration tests are SKIPPED`;
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

export interface Peer {
  readonly uri: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** Runs a client tool; rejects with its stderr if it fails. */
export async function tool(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (e) {
    const failure = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${failure.message}\n${failure.stderr ?? ""}${failure.stdout ?? ""}`,
    );
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** nbdkit on a unix socket (or TCP when `port` is given), foreground, dying with this process. */
export async function startNbdkit(
  dir: string,
  name: string,
  args: readonly string[],
  port?: number,
): Promise<Peer> {
  const socket = join(dir, `${name}.sock`);
  // nbdkit leaves its socket file behind when it stops; the same name must serve again.
  rmSync(socket, { force: true });
  const where = port === undefined ? ["-U", socket] : ["-i", "127.0.0.1", "-p", String(port)];
  const child = spawn("nbdkit", ["-f", "--exit-with-parent", ...where, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const uri = port === undefined ? `nbd+unix:///?socket=${socket}` : `nbd://127.0.0.1:${port}/`;
  return ready(child, port === undefined ? { socket } : { port }, uri);
}

/** qemu-nbd serving `image` as export `disk` on a unix socket, persistent (many connections in turn). */
export async function startQemuNbd(dir: string, image: string, args: readonly string[]): Promise<Peer> {
  const socket = join(dir, `qemu-${Math.random().toString(36).slice(2)}.sock`);
  const child = spawn("qemu-nbd", ["-k", socket, "-x", "disk", "-t", ...args, image], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return ready(child, { socket }, `nbd+unix:///disk?socket=${socket}`);
}

/** `lifeboat serve-nbd … --listen 127.0.0.1:0 --json`, up once it prints where it listens. */
export async function startServeNbd(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ uri: string; process: ChildProcess; stop(): Promise<Record<string, number>> }> {
  const child = spawn(process.execPath, [BIN, "--json", "serve-nbd", "--listen", "127.0.0.1:0", ...args], {
    env: { ...process.env, LIFEBOAT_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const listening = await new Promise<{ exports: Array<{ uri: string }> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve-nbd did not start: ${stderr}`)), 60_000);
    const check = () => {
      const line = stdout.split("\n").find((l) => l.startsWith('{"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { listening: { exports: Array<{ uri: string }> } }).listening);
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve-nbd exited with ${code}: ${stderr}`));
    });
  });
  return {
    uri: (listening.exports[0] as { uri: string }).uri,
    process: child,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      const line = stdout.split("\n").find((l) => l.startsWith('{"stopped"'));
      if (line === undefined) throw new Error(`serve-nbd stopped without stats: ${stderr}`);
      return (JSON.parse(line) as { stopped: Record<string, number> }).stopped;
    },
  };
}

async function ready(
  child: ChildProcess,
  at: { socket: string } | { port: number },
  uri: string,
): Promise<Peer> {
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${child.spawnfile} exited with ${child.exitCode}: ${stderr}`);
    if (("socket" in at ? existsSync(at.socket) : true) && (await accepts(at))) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${child.spawnfile} did not start listening: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    uri,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function accepts(at: { socket: string } | { port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = "socket" in at ? connect(at.socket) : connect(at.port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
