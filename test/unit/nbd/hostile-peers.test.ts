/**
 * Peers that break the protocol: each ends its own connection with a logged reason, never a crash,
 * a hang or unbounded buffering, and never disturbs other connections.
 */

import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ByteStream } from "../../../src/adapters/nbd/byte-stream.ts";
import { NbdClient } from "../../../src/adapters/nbd/client.ts";
import type { NbdExport } from "../../../src/adapters/nbd/export.ts";
import { serverHandshake } from "../../../src/adapters/nbd/server-handshake.ts";
import { NbdServer } from "../../../src/adapters/nbd/server.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import {
  encodeClientFlags,
  encodeGoData,
  encodeOption,
  GREETING_BYTES,
} from "../../../src/formats/nbd/handshake.ts";
import { Command, Option, ReplyType } from "../../../src/formats/nbd/protocol.ts";
import {
  decodeRequest,
  encodeOffsetDataHeader,
  encodeRequest,
  encodeSimpleReply,
  encodeStructuredHeader,
} from "../../../src/formats/nbd/transmission.ts";
import { parseNbdUri } from "../../../src/formats/nbd/uri.ts";
import type { Log } from "../../../src/ports/log.ts";

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function capturingLog(): Log & { lines: Array<{ level: string; fields: object; message: string }> } {
  const lines: Array<{ level: string; fields: object; message: string }> = [];
  const at = (level: string) => (fields: object, message: string) =>
    void lines.push({ level, fields, message });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A tiny export backed by a buffer, writable. */
function memoryExport(size = 1 << 20): NbdExport {
  const data = Buffer.alloc(size);
  return {
    name: "mem",
    description: "",
    size,
    writable: true,
    preferredBlock: 4096,
    read: async (offset, length) => [{ offset, data: data.subarray(offset, offset + length) }],
    write: async (offset, bytes) => void data.set(bytes, offset),
    zero: async (offset, length) => void data.fill(0, offset, offset + length),
    flush: async () => undefined,
    allocation: async (_o, length) => [{ length, flags: 0 }],
    close: async () => undefined,
  };
}

async function startServer(log: Log, options: { handshakeTimeoutMs?: number } = {}) {
  const server = new NbdServer([memoryExport()], { log, defaultExport: "mem", ...options });
  const bound = (await server.listen({ host: "127.0.0.1", port: 0 })) as { port: number };
  cleanup.push(() => server.close());
  return bound.port;
}

/** A raw connection that has completed the handshake (GO "mem"), ready to send requests. */
async function rawSession(port: number): Promise<{ socket: Socket; stream: ByteStream }> {
  const socket = connect(port, "127.0.0.1");
  cleanup.push(() => socket.destroy());
  const stream = new ByteStream(socket);
  await stream.read(GREETING_BYTES);
  await stream.write(encodeClientFlags(1), encodeOption(Option.GO, encodeGoData("mem", [])));
  // INFO (export) reply then ACK: 20-byte headers, 12-byte INFO payload.
  await stream.read(20 + 12 + 20);
  return { socket, stream };
}

/** Resolves when the peer has closed the socket (its unread data is drained so 'close' can fire). */
function closed(socket: Socket): Promise<void> {
  socket.on("error", () => undefined);
  socket.resume();
  return new Promise((resolve) => (socket.destroyed ? resolve() : socket.once("close", () => resolve())));
}

describe("the NBD server against hostile clients", () => {
  it("closes a connection that sends a request with a bad magic, logs why, and keeps serving others", async () => {
    const log = capturingLog();
    const port = await startServer(log);
    const { socket } = await rawSession(port);
    socket.write(Buffer.alloc(28, 0x41));
    await closed(socket);
    expect(log.lines.some((l) => l.level === "warn" && /magic/.test(JSON.stringify(l.fields)))).toBe(true);
    const good = await NbdClient.connect(parseNbdUri(`nbd://127.0.0.1:${port}/mem`));
    cleanup.push(() => good.close());
    await good.write(0, Buffer.from("still here"));
    expect((await good.read(0, 10)).toString()).toBe("still here");
  });

  it("refuses an oversized write at its header instead of buffering its payload", async () => {
    const log = capturingLog();
    const port = await startServer(log);
    const { socket } = await rawSession(port);
    socket.write(encodeRequest({ flags: 0, type: Command.WRITE, handle: 1n, offset: 0, length: 0xffffffff }));
    await closed(socket);
    expect(JSON.stringify(log.lines)).toMatch(/WRITE of 4294967295 bytes exceeds/);
  });

  it("refuses oversized option data during the handshake", async () => {
    const log = capturingLog();
    const port = await startServer(log);
    const socket = connect(port, "127.0.0.1");
    cleanup.push(() => socket.destroy());
    const header = encodeOption(Option.GO);
    header.writeUInt32BE(100 << 20, 12);
    socket.write(Buffer.concat([encodeClientFlags(1), header]));
    await closed(socket);
    expect(JSON.stringify(log.lines)).toMatch(/limit/);
  });

  it("drops a client that never finishes the handshake", async () => {
    const port = await startServer(capturingLog(), { handshakeTimeoutMs: 200 });
    const socket = connect(port, "127.0.0.1");
    cleanup.push(() => socket.destroy());
    const started = Date.now();
    await closed(socket);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("answers an unknown command with EINVAL and keeps the connection", async () => {
    const port = await startServer(capturingLog());
    const { stream } = await rawSession(port);
    await stream.write(encodeRequest({ flags: 0, type: 42, handle: 7n, offset: 0, length: 0 }));
    const reply = await stream.read(16);
    expect(reply.readUInt32BE(4)).toBe(22);
    await stream.write(encodeRequest({ flags: 0, type: Command.FLUSH, handle: 8n, offset: 0, length: 0 }));
    expect((await stream.read(16)).readUInt32BE(4)).toBe(0);
  });
});

/** A server that negotiates honestly, then answers requests with whatever `reply` writes. */
async function scriptedServer(
  reply: (req: ReturnType<typeof decodeRequest>, socket: Socket) => void,
): Promise<number> {
  const server: Server = createServer((socket) => {
    const stream = new ByteStream(socket);
    void (async () => {
      try {
        const session = await serverHandshake(stream, { find: () => memoryExport(), names: () => ["mem"] });
        if (session === undefined) return;
        for (;;) reply(decodeRequest(await stream.read(28)), socket);
      } catch {
        socket.destroy();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return (server.address() as { port: number }).port;
}

async function clientError(
  port: number,
  run: (c: NbdClient) => Promise<unknown>,
  timeout?: number,
): Promise<unknown> {
  const client = await NbdClient.connect(
    parseNbdUri(`nbd://127.0.0.1:${port}/mem${timeout === undefined ? "" : `?timeout=${timeout}`}`),
  );
  cleanup.push(() => client.close());
  return run(client).then(
    () => new Error("expected a failure"),
    (e: unknown) => e,
  );
}

describe("the NBD client against hostile servers", () => {
  it("ends the connection when read data lands outside the request", async () => {
    const port = await scriptedServer((req, socket) => {
      socket.write(
        Buffer.concat([encodeOffsetDataHeader(req.handle, 1, req.offset + 4096, 16), Buffer.alloc(16)]),
      );
    });
    const e = await clientError(port, (c) => c.read(0, 16));
    expect(isLifeboatError(e, "NBD_PROTOCOL")).toBe(true);
    expect((e as Error).message).toMatch(/lies outside/);
  });

  it("ends the connection on a reply to a request it never sent", async () => {
    const port = await scriptedServer((req, socket) =>
      socket.write(encodeSimpleReply(0, req.handle + 1000n)),
    );
    const e = await clientError(port, (c) => c.flush());
    expect((e as Error).message).toMatch(/unknown handle/);
  });

  it("refuses a structured chunk claiming gigabytes before reading any of it", async () => {
    const port = await scriptedServer((req, socket) => {
      socket.write(
        encodeStructuredHeader({
          flags: 1,
          type: ReplyType.BLOCK_STATUS,
          handle: req.handle,
          length: 0x7fffffff,
        }),
      );
    });
    const e = await clientError(port, (c) => c.read(0, 512));
    expect(isLifeboatError(e, "NBD_PROTOCOL")).toBe(true);
  });

  it("notices a read answered with gaps", async () => {
    const port = await scriptedServer((req, socket) => {
      socket.write(Buffer.concat([encodeOffsetDataHeader(req.handle, 1, req.offset, 8), Buffer.alloc(8)]));
    });
    const e = await clientError(port, (c) => c.read(0, 16));
    expect((e as Error).message).toMatch(/unanswered/);
  });

  it("gives up on a request the server never answers, with NBD_TIMEOUT", async () => {
    const port = await scriptedServer(() => undefined);
    const e = await clientError(port, (c) => c.read(0, 512), 0.2);
    expect(isLifeboatError(e, "NBD_TIMEOUT")).toBe(true);
  });

  it("buffers a bounded amount from a server that floods it", async () => {
    const flood = Buffer.alloc(1 << 20, 7);
    const server = createServer((socket) => {
      const pump = () => {
        while (socket.write(flood)) {
          /* keep writing until the kernel pushes back */
        }
      };
      socket.on("drain", pump);
      socket.on("error", () => undefined);
      pump();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const socket = connect((server.address() as { port: number }).port, "127.0.0.1");
    cleanup.push(() => socket.destroy());
    const stream = new ByteStream(socket, 1 << 20);
    await stream.read(18);
    await new Promise((r) => setTimeout(r, 300));
    expect(stream.bufferedBytes).toBeLessThan(3 << 20);
  });
});
