/**
 * Exact-length reads over a socket with bounded buffering: the socket is paused once more than
 * `highWater` bytes (or what the pending read needs) are waiting, so a peer that floods us is held
 * back by TCP instead of filling our memory. Callers bound every length they ask for (the codec's
 * limits) before calling `read`.
 */

import type { Socket } from "node:net";

export class ConnectionClosedError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "ConnectionClosedError";
  }
}

interface Waiter {
  readonly n: number;
  readonly resolve: (b: Buffer) => void;
  readonly reject: (e: Error) => void;
}

export class ByteStream {
  readonly socket: Socket;
  readonly #highWater: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #waiter: Waiter | undefined;
  #closed: Error | undefined;
  #drain: Promise<void> | undefined;
  readonly #onData = (chunk: Buffer) => this.#push(chunk);
  readonly #onEnd = () => this.#fail(new ConnectionClosedError("the peer closed the connection"));
  readonly #onError = (e: Error) =>
    this.#fail(new ConnectionClosedError(`connection failed: ${e.message}`, { cause: e }));

  constructor(socket: Socket, highWater = 4 << 20) {
    this.socket = socket;
    this.#highWater = highWater;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Resolves with exactly `n` bytes, or rejects with ConnectionClosedError. One read at a time. */
  read(n: number): Promise<Buffer> {
    if (this.#waiter !== undefined) return Promise.reject(new Error("ByteStream: concurrent read"));
    if (this.#buffered >= n) return Promise.resolve(this.#take(n));
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    return new Promise<Buffer>((resolve, reject) => {
      this.#waiter = { n, resolve, reject };
      if (this.socket.isPaused()) this.socket.resume();
    });
  }

  /** Queues bytes for the peer; resolves once the kernel has taken them or the queue has drained. */
  async write(...parts: Uint8Array[]): Promise<void> {
    if (this.#closed !== undefined) throw this.#closed;
    let flushed = true;
    for (const p of parts) if (p.length > 0) flushed = this.socket.write(p);
    if (!flushed) await this.drained();
  }

  /** Waits until the socket's write queue is below its high-water mark. */
  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    // One waiter for all writers, however many are blocked (one listener pair, not one per writer).
    this.#drain ??= new Promise<void>((resolve, reject) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        this.#drain = undefined;
        if (this.#closed !== undefined) reject(this.#closed);
        else resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
    return this.#drain;
  }

  /** Stops consuming the socket (before handing it to TLS); nothing may be buffered. */
  detach(): Socket {
    if (this.#buffered > 0) throw new Error(`ByteStream: ${this.#buffered} bytes buffered at detach`);
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("error", this.#onError);
    this.socket.pause();
    return this.socket;
  }

  /** Ends the connection; pending and later reads reject with `reason`. */
  destroy(reason: string): void {
    this.#fail(new ConnectionClosedError(reason));
    this.socket.destroy();
  }

  #push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const w = this.#waiter;
    if (w !== undefined && this.#buffered >= w.n) {
      this.#waiter = undefined;
      w.resolve(this.#take(w.n));
    }
    const need = this.#waiter?.n ?? 0;
    if (this.#buffered > Math.max(this.#highWater, need)) this.socket.pause();
  }

  #take(n: number): Buffer {
    let out: Buffer;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.#chunks[0] as Buffer;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#buffered -= n;
    if (this.socket.isPaused() && this.#buffered <= this.#highWater && this.#closed === undefined)
      this.socket.resume();
    return out;
  }

  #fail(error: ConnectionClosedError): void {
    if (this.#closed !== undefined) return;
    this.#closed = error;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(error);
  }
}
