/**
 * An NBD server on TCP or a unix socket, serving a fixed set of exports. Each connection runs the
 * handshake (bounded in time, so idle half-open clients cannot pile up) and then the transmission
 * phase; any protocol violation closes that connection with its reason logged and leaves the
 * others and the server untouched.
 */

import { createServer, type Server, type Socket } from "node:net";
import { unlink } from "node:fs/promises";
import { LifeboatError } from "../../domain/errors.ts";
import { NbdProtocolError } from "../../formats/nbd/limits.ts";
import type { Log } from "../../ports/log.ts";
import { ByteStream, ConnectionClosedError } from "./byte-stream.ts";
import type { NbdExport } from "./export.ts";
import { type ExportLookup, serverHandshake } from "./server-handshake.ts";
import { type ServeStats, serveTransmission } from "./server-transmission.ts";

export type ListenAddress = { readonly host: string; readonly port: number } | { readonly socket: string };

export interface NbdServerOptions {
  readonly log: Log;
  /** The export a client gets when it asks for "" (the default export). */
  readonly defaultExport: string;
  readonly maxConnections?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxInFlight?: number;
  readonly maxBytesInFlight?: number;
}

export class NbdServer {
  readonly stats: ServeStats = { reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, errors: 0 };
  readonly #exports: Map<string, NbdExport>;
  readonly #options: NbdServerOptions;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;
  #connections = 0;

  constructor(exports: readonly NbdExport[], options: NbdServerOptions) {
    this.#exports = new Map(exports.map((e) => [e.name, e]));
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the address actually bound (port 0 picks a free port). */
  async listen(address: ListenAddress): Promise<ListenAddress> {
    await new Promise<void>((resolve, reject) => {
      const fail = (e: NodeJS.ErrnoException) =>
        reject(
          new LifeboatError(
            "NBD_LISTEN",
            `cannot listen on ${"socket" in address ? address.socket : `${address.host}:${address.port}`}: ${e.message}`,
            {
              cause: e,
            },
          ),
        );
      this.#server.once("error", fail);
      const ready = () => {
        this.#server.off("error", fail);
        resolve();
      };
      if ("socket" in address) this.#server.listen(address.socket, ready);
      else this.#server.listen(address.port, address.host, ready);
    });
    if ("socket" in address) return address;
    const bound = this.#server.address();
    if (bound === null || typeof bound === "string") return address;
    return { host: bound.address, port: bound.port };
  }

  get connections(): number {
    return this.#connections;
  }

  /** Stops accepting, ends every connection and closes the exports. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
    for (const e of this.#exports.values()) await e.close();
    const addr = this.#server.address();
    if (typeof addr === "string") await unlink(addr).catch(() => undefined);
  }

  #accept(socket: Socket): void {
    const peer =
      socket.remoteAddress === undefined ? "unix socket" : `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.#options.log;
    if (this.#connections >= (this.#options.maxConnections ?? 64)) {
      log.warn({ peer }, "refusing NBD connection: too many connections");
      socket.destroy();
      return;
    }
    this.#connections++;
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.once("close", () => {
      this.#connections--;
      this.#sockets.delete(socket);
    });
    void this.#serve(socket, peer);
  }

  async #serve(socket: Socket, peer: string): Promise<void> {
    const log = this.#options.log;
    const stream = new ByteStream(socket, 1 << 20);
    const lookup: ExportLookup = {
      find: (name) => this.#exports.get(name === "" ? this.#options.defaultExport : name),
      names: () => [...this.#exports.keys()],
    };
    const timer = setTimeout(
      () => stream.destroy("handshake timed out"),
      this.#options.handshakeTimeoutMs ?? 30_000,
    );
    try {
      const session = await serverHandshake(stream, lookup);
      clearTimeout(timer);
      if (session === undefined) return;
      log.info({ peer, export: session.export.name }, "NBD client connected");
      await serveTransmission(stream, session, {
        log,
        peer,
        stats: this.stats,
        maxInFlight: this.#options.maxInFlight ?? 32,
        maxBytesInFlight: this.#options.maxBytesInFlight ?? 64 << 20,
      });
      log.info({ peer }, "NBD client disconnected");
    } catch (e) {
      if (e instanceof NbdProtocolError)
        log.warn({ peer, reason: e.reason }, "closing NBD connection: protocol violation");
      else if (e instanceof ConnectionClosedError)
        log.info({ peer, reason: e.message }, "NBD connection ended");
      else log.error({ peer, error: (e as Error).message }, "closing NBD connection");
    } finally {
      clearTimeout(timer);
      socket.end();
      socket.destroySoon();
    }
  }
}
