/**
 * Bounded retry of one NBD request the server refused with a transient error. Every NBD data
 * command is idempotent (the same bytes to the same offset), so repeating one is safe; errors that
 * cannot pass by themselves (EPERM, EINVAL, ENOSPC, ENOTSUP…) and lost connections are not retried.
 */

import { Errno, errnoName } from "../../formats/nbd/protocol.ts";
import type { Log } from "../../ports/log.ts";
import { NbdRequestError } from "./client.ts";

const TRANSIENT = new Set<number>([Errno.EIO, Errno.ENOMEM]);

export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 50 };

export async function withRetry<T>(
  run: () => Promise<T>,
  policy: RetryPolicy,
  log: Log,
  where: string,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof NbdRequestError) || !TRANSIENT.has(e.errno) || attempt >= policy.attempts) throw e;
      const delay = policy.baseDelayMs * 4 ** (attempt - 1) * (0.5 + Math.random() / 2);
      log.warn(
        { peer: where, command: e.command, offset: e.offset, errno: errnoName(e.errno), attempt },
        "NBD request failed; retrying",
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
