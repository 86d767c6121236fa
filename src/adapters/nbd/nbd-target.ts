/**
 * An NBD export as a BlockTarget ("cloud disk mode" and `restore --to nbd://…`).
 *
 * Writes are pipelined: `write` and `zero` return once a request is queued (consecutive writes are
 * gathered into requests of up to 1 MiB), with at most `window` requests unanswered, and the first
 * failure is latched so every later call — above all `flush` — rejects with it. Callers must not
 * modify a buffer after handing it to `write` (it may be sent, or resent on retry, later). `flush` waits for every reply and then sends NBD_CMD_FLUSH, so a
 * resolved flush means every earlier write is acknowledged and durable on the server. Callers
 * record progress only after a flush (restore and the replica do).
 */

import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import { Errno, TransmissionFlag } from "../../formats/nbd/protocol.ts";
import type { NbdAddress } from "../../formats/nbd/uri.ts";
import type { BlockTarget } from "../../ports/block-target.ts";
import { type Log, silentLog } from "../../ports/log.ts";
import { NbdClient, NbdRequestError } from "./client.ts";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.ts";

/** Consecutive writes are gathered into requests of up to this size. */
const COALESCE = 1 << 20;
/** Zeroing requests are split so each stays far below the protocol's 32-bit length. */
const MAX_ZERO_REQUEST = 1 << 30;

export interface NbdTargetOptions {
  readonly log?: Log;
  /** Requests in flight (also the connection's pipeline depth). */
  readonly window?: number;
  readonly retry?: RetryPolicy;
}

export class NbdTarget implements BlockTarget {
  readonly #client: NbdClient;
  readonly #log: Log;
  readonly #window: number;
  readonly #retry: RetryPolicy;
  readonly #inFlight = new Set<Promise<void>>();
  #failure: unknown;
  /** Consecutive writes not sent yet (never more than COALESCE bytes). */
  #run: { offset: number; end: number; length: number; parts: Uint8Array[] } | undefined;
  #warnedNoFlush = false;

  private constructor(client: NbdClient, options: NbdTargetOptions) {
    this.#client = client;
    this.#log = options.log ?? silentLog;
    this.#window = options.window ?? 16;
    this.#retry = options.retry ?? DEFAULT_RETRY;
  }

  static async open(address: NbdAddress, options: NbdTargetOptions = {}): Promise<NbdTarget> {
    const client = await NbdClient.connect(address, {
      maxInFlight: options.window ?? 16,
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    if (client.readOnly) {
      await client.close();
      throw new LifeboatError("TARGET_READ_ONLY", `${client.where} is exported read-only`);
    }
    return new NbdTarget(client, options);
  }

  get size(): number {
    return this.#client.size;
  }

  get where(): string {
    return this.#client.where;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.#throwIfFailed();
    const max = this.#client.maxRequest;
    const run = this.#run;
    // Consecutive writes (a restore writes chunk after chunk) go out as one larger request.
    if (run !== undefined && run.end === offset && run.length + data.length <= Math.min(max, COALESCE)) {
      run.parts.push(data);
      run.length += data.length;
      run.end += data.length;
      if (run.length >= Math.min(max, COALESCE)) await this.#submitRun();
      return;
    }
    await this.#submitRun();
    if (data.length >= Math.min(max, COALESCE)) {
      for (let done = 0; done < data.length; done += max) {
        const piece = data.subarray(done, Math.min(data.length, done + max));
        await this.#submit(() => this.#client.write(offset + done, piece));
      }
      return;
    }
    this.#run = { offset, end: offset + data.length, length: data.length, parts: [data] };
  }

  async zero(offset: number, length: number): Promise<void> {
    await this.#submitRun();
    if (!this.#client.can(TransmissionFlag.SEND_WRITE_ZEROES)) {
      const zeros = new Uint8Array(Math.min(length, this.#client.maxRequest, 4 << 20));
      for (let done = 0; done < length; done += zeros.length) {
        await this.write(offset + done, zeros.subarray(0, Math.min(zeros.length, length - done)));
      }
      return;
    }
    for (let done = 0; done < length; done += MAX_ZERO_REQUEST) {
      const n = Math.min(MAX_ZERO_REQUEST, length - done);
      await this.#submit(() => this.#client.writeZeroes(offset + done, n));
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    await this.#submitRun();
    await this.#settled();
    const out = Buffer.allocUnsafe(length);
    const max = this.#client.maxRequest;
    for (let done = 0; done < length; done += max) {
      const n = Math.min(max, length - done);
      const piece = await this.#call(() => this.#client.read(offset + done, n));
      piece.copy(out, done);
    }
    return out;
  }

  async flush(): Promise<void> {
    await this.#submitRun();
    await this.#settled();
    if (this.#client.can(TransmissionFlag.SEND_FLUSH)) {
      await this.#call(() => this.#client.flush());
    } else if (!this.#warnedNoFlush) {
      this.#warnedNoFlush = true;
      this.#log.warn(
        { peer: this.where },
        "the NBD server offers no FLUSH: durability is the server's promise",
      );
    }
  }

  async close(): Promise<void> {
    await this.#submitRun().catch(() => undefined);
    await Promise.allSettled(this.#inFlight);
    await this.#client.close();
  }

  /** Sends the writes gathered so far as one request. */
  async #submitRun(): Promise<void> {
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    await this.#submit(() => this.#client.write(run.offset, run.parts));
  }

  async #submit(run: () => Promise<void>): Promise<void> {
    this.#throwIfFailed();
    while (this.#inFlight.size >= this.#window) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
    const p: Promise<void> = this.#call(run)
      .catch((e: unknown) => {
        this.#failure ??= e;
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  async #settled(): Promise<void> {
    await Promise.all(this.#inFlight);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(run, this.#retry, this.#log, this.where);
    } catch (e) {
      throw targetError(this.where, e);
    }
  }
}

function targetError(where: string, e: unknown): unknown {
  if (isLifeboatError(e) || !(e instanceof NbdRequestError)) return e;
  if (e.errno === Errno.ENOSPC) {
    return new LifeboatError("TARGET_IO", `${where}: ${e.message}`, {
      cause: e,
      remedy: "The target disk is out of space (a thin-provisioned volume?): grow it and run again.",
    });
  }
  if (e.errno === Errno.EPERM) {
    return new LifeboatError("TARGET_READ_ONLY", `${where}: ${e.message}`, { cause: e });
  }
  return new LifeboatError("TARGET_IO", `${where}: ${e.message}`, {
    cause: e,
    remedy: "Check the NBD server and the disk behind it, then run again; nothing committed is lost.",
  });
}
