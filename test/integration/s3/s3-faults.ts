/**
 * Faults injected into the real S3 client of an S3Store through the SDK's middleware stack, so the
 * failure reaches the store exactly as a network or server fault would (and the server sees what it
 * would see).
 */

import { createServer } from "node:net";
import type { S3Store } from "../../../src/adapters/store-s3/s3-store.ts";

export type FaultMode =
  /** The request reaches the server and succeeds; the answer is lost (connection reset). */
  | "after"
  /** The connection resets before the request is sent. */
  | "before"
  /** One byte of the body flips after Content-MD5 was computed, as a bad NIC or proxy would do. */
  | "corrupt-body";

/** Injects `mode` into the first request for `key` (relative to the store's prefix). */
export function failOnce(store: S3Store, mode: FaultMode, key: string): void {
  let armed = true;
  const fullKey = store.prefix + key;
  const matches = (input: unknown): boolean => armed && (input as { Key?: unknown }).Key === fullKey;
  if (mode === "corrupt-body") {
    store.client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: unknown };
        if (matches(args.input) && request.body instanceof Uint8Array && request.body.length > 0) {
          armed = false;
          const damaged = request.body.slice();
          damaged[damaged.length >> 1] = (damaged[damaged.length >> 1] ?? 0) ^ 0x40;
          request.body = damaged;
        }
        return next(args);
      },
      // "build" runs before signing: the signature covers the damaged body, only Content-MD5 does not.
      { step: "build", name: `lifeboat-fault-corrupt-${key}` },
    );
    return;
  }
  store.client.middlewareStack.add(
    (next) => async (args) => {
      if (!matches(args.input)) return next(args);
      armed = false;
      if (mode === "before") throw connectionReset();
      await next(args);
      throw connectionReset();
    },
    { step: "finalizeRequest", name: `lifeboat-fault-${mode}-${key}` },
  );
}

function connectionReset(): Error {
  return Object.assign(new Error("read ECONNRESET (injected)"), { code: "ECONNRESET", errno: -104 });
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
