/**
 * An NBD client connection in the transmission phase: pipelined requests (bounded in number) with
 * per-request timeouts; replies are matched and checked by client-replies.ts, and a protocol
 * violation ends the connection with the reason logged.
 */

import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import { check, Limits, NbdProtocolError } from "../../formats/nbd/limits.ts";
import { Command, TransmissionFlag } from "../../formats/nbd/protocol.ts";
import { encodeRequest, type StatusExtent } from "../../formats/nbd/transmission.ts";
import { displayNbdUri, type NbdAddress } from "../../formats/nbd/uri.ts";
import { type Log, silentLog } from "../../ports/log.ts";
import { ByteStream, ConnectionClosedError } from "./byte-stream.ts";
import { type BlockSizes, negotiate } from "./client-handshake.ts";
import { NbdRequestError, type Pending, ReplyReader } from "./client-replies.ts";
import { openSocket } from "./connect.ts";

export interface NbdClientOptions {
  /** Meta contexts to negotiate (base:allocation, qemu:dirty-bitmap:NAME). */
  readonly metaContexts?: readonly string[];
  readonly connectTimeoutMs?: number;
  /** Requests outstanding at once on this connection. */
  readonly maxInFlight?: number;
  readonly log?: Log;
}

const NAMES: Record<number, string> = {
  [Command.READ]: "READ",
  [Command.WRITE]: "WRITE",
  [Command.FLUSH]: "FLUSH",
  [Command.TRIM]: "TRIM",
  [Command.WRITE_ZEROES]: "WRITE_ZEROES",
  [Command.BLOCK_STATUS]: "BLOCK_STATUS",
};

export class NbdClient {
  readonly size: number;
  readonly flags: number;
  readonly blockSize: BlockSizes | undefined;
  readonly structuredReplies: boolean;
  readonly where: string;
  readonly #stream: ByteStream;
  readonly #contexts: ReadonlyMap<string, number>;
  readonly #pending = new Map<bigint, Pending>();
  readonly #timeoutMs: number | undefined;
  readonly #maxInFlight: number;
  readonly #log: Log;
  readonly #slotWaiters: Array<() => void> = [];
  readonly #idleWaiters: Array<() => void> = [];
  #active = 0;
  #nextHandle = 1n;
  #failure: Error | undefined;
  #closing = false;

  private constructor(
    address: NbdAddress,
    n: Awaited<ReturnType<typeof negotiate>>,
    options: NbdClientOptions,
  ) {
    this.where = displayNbdUri(address);
    this.#stream = n.stream;
    this.size = n.size;
    this.flags = n.flags;
    this.blockSize = n.blockSize;
    this.structuredReplies = n.structuredReplies;
    this.#contexts = n.metaContexts;
    this.#timeoutMs = address.timeoutMs;
    this.#maxInFlight = options.maxInFlight ?? 16;
    this.#log = options.log ?? silentLog;
    void this.#readLoop();
  }

  static async connect(address: NbdAddress, options: NbdClientOptions = {}): Promise<NbdClient> {
    const timeout = options.connectTimeoutMs ?? address.timeoutMs ?? 30_000;
    const stream = new ByteStream(await openSocket(address, timeout));
    const handshakeTimer = setTimeout(() => stream.destroy("the handshake took too long"), timeout);
    try {
      const negotiated = await negotiate(stream, address, options.metaContexts ?? [], timeout);
      return new NbdClient(address, negotiated, options);
    } catch (e) {
      stream.destroy("handshake failed");
      throw asLifeboatError(e, displayNbdUri(address), "during the handshake");
    } finally {
      clearTimeout(handshakeTimer);
    }
  }

  get readOnly(): boolean {
    return (this.flags & TransmissionFlag.READ_ONLY) !== 0;
  }

  can(flag: number): boolean {
    return (this.flags & TransmissionFlag.HAS_FLAGS) !== 0 && (this.flags & flag) !== 0;
  }

  /** Largest READ/WRITE this connection sends in one request. */
  get maxRequest(): number {
    return Math.min(this.blockSize?.maximum ?? Limits.maxPayload, Limits.maxPayload);
  }

  /** The id the server gave a negotiated meta context, or undefined if it did not grant it. */
  contextId(name: string): number | undefined {
    return this.#contexts.get(name);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    return (await this.#request(Command.READ, 0, offset, length)) as Buffer;
  }

  /** Writes `data` (one buffer, or several sent back to back without copying) at `offset`. */
  async write(offset: number, data: Uint8Array | readonly Uint8Array[], flags = 0): Promise<void> {
    const parts = data instanceof Uint8Array ? [data] : data;
    const length = parts.reduce((n, p) => n + p.length, 0);
    await this.#request(Command.WRITE, flags, offset, length, parts);
  }

  async writeZeroes(offset: number, length: number, flags = 0): Promise<void> {
    await this.#request(Command.WRITE_ZEROES, flags, offset, length);
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.#request(Command.TRIM, 0, offset, length);
  }

  async flush(): Promise<void> {
    await this.#request(Command.FLUSH, 0, 0, 0);
  }

  /** Status extents from offset on, per negotiated context id; the server may describe only a prefix. */
  async blockStatus(offset: number, length: number, flags = 0): Promise<Map<number, StatusExtent[]>> {
    check(this.structuredReplies, "BLOCK_STATUS needs structured replies");
    return (await this.#request(Command.BLOCK_STATUS, flags, offset, length)) as Map<number, StatusExtent[]>;
  }

  /** Waits for outstanding replies, says goodbye (DISC) and closes. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#active > 0 && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
    if (this.#failure === undefined) {
      await this.#stream
        .write(encodeRequest({ flags: 0, type: Command.DISC, handle: 0n, offset: 0, length: 0 }))
        .catch(() => undefined);
      this.#stream.socket.end();
    }
    this.#stream.socket.destroySoon();
  }

  async #request(
    type: number,
    flags: number,
    offset: number,
    length: number,
    payload?: readonly Uint8Array[],
  ): Promise<Buffer | Map<number, StatusExtent[]> | undefined> {
    const command = NAMES[type] ?? `command ${type}`;
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new LifeboatError(
        "INTERNAL",
        `${command} ${offset}+${length} outside the export of ${this.size} bytes`,
      );
    }
    if ((type === Command.READ || type === Command.WRITE) && length > this.maxRequest) {
      throw new LifeboatError(
        "INTERNAL",
        `${command} of ${length} bytes exceeds the export's maximum ${this.maxRequest}`,
      );
    }
    await this.#slot();
    if (this.#failure !== undefined) {
      this.#release();
      throw this.#failure;
    }
    const handle = this.#nextHandle++;
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        command,
        type,
        offset,
        length,
        ...(type === Command.READ ? { buffer: Buffer.alloc(length) } : {}),
        covered: [],
        status: new Map(),
        resolve: (v) => {
          this.#settle(handle);
          resolve(v);
        },
        reject: (e) => {
          this.#settle(handle);
          reject(e);
        },
      };
      if (this.#timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          this.#fail(
            new LifeboatError(
              "NBD_TIMEOUT",
              `${this.where}: ${command} ${offset}+${length} got no reply within ${this.#timeoutMs} ms`,
            ),
          );
        }, this.#timeoutMs);
      }
      this.#pending.set(handle, pending);
      const header = encodeRequest({ flags, type, handle, offset, length });
      const sent =
        payload === undefined ? this.#stream.write(header) : this.#stream.write(header, ...payload);
      sent.catch((e: unknown) => this.#fail(asLifeboatError(e, this.where, `sending ${command}`)));
    });
  }

  #settle(handle: bigint): void {
    const p = this.#pending.get(handle);
    if (p?.timer !== undefined) clearTimeout(p.timer);
    if (this.#pending.delete(handle)) this.#release();
  }

  async #slot(): Promise<void> {
    if (this.#active < this.#maxInFlight) {
      this.#active++;
      return;
    }
    // The releasing request hands its slot over directly, so #active never overshoots.
    await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
  }

  #release(): void {
    const next = this.#slotWaiters.shift();
    if (next !== undefined) return next();
    this.#active--;
    if (this.#active === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  async #readLoop(): Promise<void> {
    const replies = new ReplyReader(
      this.#stream,
      this.#pending,
      [...this.#contexts.values()],
      this.structuredReplies,
    );
    try {
      for (;;) await replies.next();
    } catch (e) {
      if (this.#closing && e instanceof ConnectionClosedError && this.#pending.size === 0) return;
      const error = asLifeboatError(e, this.where, "in transmission");
      if (error.code === "NBD_PROTOCOL")
        this.#log.error({ peer: this.where, reason: error.message }, "closing NBD connection");
      this.#fail(error);
    }
  }

  /** Ends the connection: every outstanding and later request fails with `error`. */
  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#stream.destroy(error.message);
    for (const p of [...this.#pending.values()]) p.reject(error);
    // Waiters wake to find #failure set and give their slot back.
    for (const w of this.#slotWaiters.splice(0)) w();
    for (const w of this.#idleWaiters.splice(0)) w();
  }
}

/** Classifies anything that ended a connection as a coded error. */
export function asLifeboatError(e: unknown, where: string, when: string): LifeboatError {
  if (isLifeboatError(e)) return e;
  if (e instanceof NbdProtocolError) {
    return new LifeboatError("NBD_PROTOCOL", `${where}: protocol violation ${when}: ${e.reason}`, {
      cause: e,
    });
  }
  if (e instanceof ConnectionClosedError) {
    return new LifeboatError("NBD_CONNECT", `${where}: connection lost ${when}: ${e.message}`, { cause: e });
  }
  return new LifeboatError(
    "NBD_CONNECT",
    `${where}: ${when}: ${e instanceof Error ? e.message : String(e)}`,
    {
      cause: e,
    },
  );
}

export { NbdRequestError };
