/**
 * `lifeboat restore --to nbd://…` against nbdkit: exact bytes read back with nbdcopy, over a unix
 * socket, TCP and TLS; injected write errors and delays end in coded errors (or are retried), and a
 * failed restore leaves nothing that the next one cannot fix.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { makeImage, sha256File } from "../../helpers/disk-image.ts";
import { freePort, nbdPeersUnavailable, type Peer, startNbdkit, tool } from "./peers.ts";

const SIZE = 64 << 20;
const env = { LIFEBOAT_PASSWORD: "correct horse battery staple" };
const unavailable = nbdPeersUnavailable();

describe.skipIf(unavailable !== undefined)("restore to an NBD export (nbdkit)", () => {
  let dir: string;
  let repo: string;
  let image: string;
  let imageHash: string;
  const peers: Peer[] = [];

  const nbdkit = async (name: string, args: string[], port?: number) => {
    const peer = await startNbdkit(dir, name, args, port);
    peers.push(peer);
    return peer;
  };
  const restore = (to: string, ...extra: string[]) =>
    lifeboat(["--json", "restore", "--repo", repo, "--point", "img@1", "--to", to, ...extra], env);
  const readBack = async (uri: string, name: string) => {
    const out = join(dir, name);
    await tool("nbdcopy", [uri, out]);
    return sha256File(out, SIZE);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lifeboat-nbd-restore-"));
    repo = join(dir, "repo");
    image = join(dir, "disk.img");
    await makeImage(image, SIZE, 11);
    imageHash = await sha256File(image);
    expect((await lifeboat(["repo", "init", "--repo", repo], env)).code).toBe(0);
    const backup = await lifeboat(
      [
        "backup",
        "--source",
        `image:${image}`,
        "--repo",
        repo,
        "--source-name",
        "img",
        "--state-dir",
        join(dir, "st"),
      ],
      env,
    );
    expect(backup.code, backup.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const p of peers) await p.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("restores a point into nbdkit memory over a unix socket; nbdcopy reads back identical bytes", async () => {
    const peer = await nbdkit("mem", ["memory", String(SIZE)]);
    const started = Date.now();
    const r = await restore(peer.uri, "--verify");
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).disks[0]).toMatchObject({ verified: true, capacity: SIZE });
    expect(await readBack(peer.uri, "back.img")).toBe(imageHash);
    console.log(
      `restore over NBD (64 MiB, CLI start-up and --verify read-back included): ${(SIZE / 1e6 / seconds).toFixed(1)} MB/s`,
    );
    // Zero chunks were written as WRITE_ZEROES: the memory disk stays sparse where the image is zero.
    const map = await tool("nbdinfo", ["--map", peer.uri]);
    expect(map).toMatch(/hole,zero/);
  });

  it("restores over TCP with TLS, and a plain connection to that server gets a coded error", async () => {
    const certs = join(dir, "pki");
    await tool("mkdir", ["-p", certs]);
    const ssl = (...args: string[]) => tool("openssl", args, 30_000);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    await ssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      join(certs, "ca-key.pem"),
      "-out",
      join(certs, "ca-cert.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=Lifeboat test CA",
    );
    await ssl(
      "req",
      ...ec,
      "-keyout",
      join(certs, "server-key.pem"),
      "-out",
      join(certs, "server.csr"),
      "-subj",
      "/CN=127.0.0.1",
    );
    await writeFile(join(certs, "ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
    await ssl(
      "x509",
      "-req",
      "-in",
      join(certs, "server.csr"),
      "-CA",
      join(certs, "ca-cert.pem"),
      "-CAkey",
      join(certs, "ca-key.pem"),
      "-CAcreateserial",
      "-out",
      join(certs, "server-cert.pem"),
      "-days",
      "2",
      "-extfile",
      join(certs, "ext.cnf"),
    );
    const port = await freePort();
    const peer = await nbdkit(
      "tls",
      ["--tls=require", `--tls-certificates=${certs}`, "memory", String(SIZE)],
      port,
    );

    const plain = await restore(peer.uri);
    expect(plain.code).toBe(1);
    expect(errorCode(plain)).toBe("NBD_CONNECT");
    expect(plain.stderr).toMatch(/requires TLS/);

    const secure = `nbds://127.0.0.1:${port}/?tls-certificates=${certs}`;
    const r = await restore(secure);
    expect(r.code, r.stderr).toBe(0);
    const back = join(dir, "tls-back.img");
    // nbdcopy speaks TLS with the same certificate directory.
    await tool("nbdcopy", [`nbds://127.0.0.1:${port}/?tls-certificates=${certs}`, back]);
    expect(await sha256File(back, SIZE)).toBe(imageHash);
  });

  it("fails with TARGET_IO when every write errors, and rides out rare errors by retrying", async () => {
    const broken = await nbdkit("broken", [
      "--filter=error",
      "memory",
      String(SIZE),
      "error-pwrite=EIO",
      "error-pwrite-rate=100%",
    ]);
    const failed = await restore(broken.uri);
    expect(failed.code).toBe(1);
    expect(errorCode(failed)).toBe("TARGET_IO");
    expect(failed.stderr).toMatch(/WRITE \d+\+\d+ failed: EIO/);

    const flaky = await nbdkit("flaky", [
      "--filter=error",
      "memory",
      String(SIZE),
      "error-pwrite=EIO",
      "error-pwrite-rate=3%",
    ]);
    const ok = await restore(flaky.uri, "--verify");
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readBack(flaky.uri, "flaky-back.img")).toBe(imageHash);
  });

  it("gives up on a target slower than ?timeout= with NBD_TIMEOUT, and restores exactly through a merely slow one", async () => {
    const stuck = await nbdkit("stuck", ["--filter=delay", "memory", String(SIZE), "delay-write=5"]);
    const timedOut = await restore(`${stuck.uri}&timeout=0.5`);
    expect(timedOut.code).toBe(1);
    expect(errorCode(timedOut)).toBe("NBD_TIMEOUT");

    const slow = await nbdkit("slow", [
      "--filter=delay",
      "memory",
      String(SIZE),
      "delay-write=5ms",
      "delay-zero=5ms",
    ]);
    const ok = await restore(slow.uri);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readBack(slow.uri, "slow-back.img")).toBe(imageHash);
  });

  it("refuses a read-only export, and a target smaller than the disk, before writing anything", async () => {
    const readOnly = await nbdkit("ro", ["-r", "memory", String(SIZE)]);
    const ro = await restore(readOnly.uri);
    expect(ro.code).toBe(2);
    expect(errorCode(ro)).toBe("TARGET_READ_ONLY");

    const small = await nbdkit("small", ["memory", String(SIZE / 2)]);
    const tooSmall = await restore(small.uri);
    expect(tooSmall.code).toBe(2);
    expect(errorCode(tooSmall)).toBe("TARGET_TOO_SMALL");

    const bad = await restore("nbd://127.0.0.1:1/?bitmap=b0");
    expect(bad.code).toBe(2);
    expect(errorCode(bad)).toBe("NBD_URI_INVALID");
  });
});
