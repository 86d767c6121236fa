/**
 * Retries store operations that failed for a transient reason, with exponential backoff and full
 * jitter (a random delay in [0, min(cap, base·2^n)), so many agents hitting one overloaded server do
 * not retry in lock-step). Retries live here and nowhere else, so no layer multiplies another's.
 *
 * Every operation is safe to repeat: put without ifAbsent rewrites the same bytes, delete of a
 * missing object succeeds, and a create-only put that landed before its reply was lost answers
 * "exists" on the retry — which is the truth; the repository layer reads such objects back to tell
 * its own write from a competitor's.
 */

import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { Clock } from "../../ports/clock.ts";
import type { ByteRange, ObjectStore } from "../../ports/object-store.ts";

export interface RetryPolicy {
  /** Attempts in total, the first included (1 = no retries). */
  readonly maxAttempts: number;
  /** Upper bound of the first retry's delay. */
  readonly baseDelayMs: number;
  /** Upper bound of any delay. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 20_000 };

export interface RetryEvent {
  readonly op: string;
  readonly key: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

export interface RetryingStoreOptions {
  readonly clock: Clock;
  /** Uniform in [0, 1); injected so tests and the simulator are deterministic. */
  readonly random?: () => number;
  readonly policy?: Partial<RetryPolicy>;
  readonly isRetryable?: (e: unknown) => boolean;
  /** Called before each backoff, so a retry is visible in the log rather than silent. */
  readonly onRetry?: (event: RetryEvent) => void;
}

const TRANSIENT_ERRNO = new Set([
  "ETIMEDOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "EAGAIN",
  "EBUSY",
]);
/** Error names/codes of services saying "slow down" or "try again", whatever their HTTP status. */
const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/**
 * Whether an error is worth retrying. A LifeboatError is retryable only with code STORE_IO, and then
 * by its own `retryable` hint or else by its cause: OBJECT_MISSING, STORE_FULL, OBJECT_CORRUPT and
 * usage errors will fail the same way again. Other errors are judged by the usual signals: an
 * explicit `retryable`/`$retryable` (AWS SDK), a 5xx or 429 status, a throttling name, or a
 * transient errno. A 4xx status means the request itself is wrong.
 */
export function isRetryable(e: unknown, depth = 0): boolean {
  if (typeof e !== "object" || e === null || depth > 8) return false;
  if (isLifeboatError(e) && e.code !== "STORE_IO") return false;
  const fields = e as Record<string, unknown>;
  if (typeof fields.retryable === "boolean") return fields.retryable;
  if (fields.$retryable !== undefined && fields.$retryable !== null && fields.$retryable !== false)
    return true;
  for (const name of [fields.name, fields.Code, fields.code]) {
    if (typeof name === "string" && (TRANSIENT_NAMES.has(name) || TRANSIENT_ERRNO.has(name))) return true;
  }
  const status = httpStatusOf(fields);
  if (status !== undefined) return status >= 500 || status === 429;
  return isRetryable(fields.cause, depth + 1);
}

function httpStatusOf(fields: Record<string, unknown>): number | undefined {
  const metadata = fields.$metadata;
  const candidates = [
    typeof metadata === "object" && metadata !== null
      ? (metadata as Record<string, unknown>).httpStatusCode
      : undefined,
    fields.statusCode,
    fields.status,
  ];
  return candidates.find((c): c is number => typeof c === "number" && c >= 100 && c < 600);
}

export class RetryingStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #policy: RetryPolicy;
  readonly #isRetryable: (e: unknown) => boolean;
  readonly #onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(inner: ObjectStore, options: RetryingStoreOptions) {
    this.#inner = inner;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
    this.#isRetryable = options.isRetryable ?? isRetryable;
    this.#onRetry = options.onRetry;
    if (!Number.isInteger(this.#policy.maxAttempts) || this.#policy.maxAttempts < 1) {
      throw new LifeboatError("CONFIG_INVALID", `retry maxAttempts must be a positive integer`);
    }
  }

  put(key: string, data: Uint8Array, options?: { ifAbsent?: boolean }): Promise<"created" | "exists"> {
    return this.#retry("put", key, () => this.#inner.put(key, data, options));
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.#retry("get", key, () => this.#inner.get(key, range));
  }

  head(key: string): Promise<{ size: number } | undefined> {
    return this.#retry("head", key, () => this.#inner.head(key));
  }

  /**
   * A listing that fails midway resumes after the last key it yielded (listings are in key order),
   * so the consumer sees every key once. Each failure spends one attempt of the listing's budget.
   */
  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    let lastKey: string | undefined;
    let attempt = 1;
    for (;;) {
      try {
        for await (const entry of this.#inner.list(prefix)) {
          if (lastKey !== undefined && entry.key <= lastKey) continue;
          lastKey = entry.key;
          yield entry;
        }
        return;
      } catch (e) {
        await this.#backoffOrThrow("list", prefix, attempt++, e);
      }
    }
  }

  delete(key: string): Promise<void> {
    return this.#retry("delete", key, () => this.#inner.delete(key));
  }

  async #retry<T>(op: string, key: string, action: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await action();
      } catch (e) {
        await this.#backoffOrThrow(op, key, attempt, e);
      }
    }
  }

  /** Sleeps before the next attempt, or throws if the error is final or the budget is spent. */
  async #backoffOrThrow(op: string, key: string, attempt: number, error: unknown): Promise<void> {
    if (!this.#isRetryable(error)) throw asLifeboatError(op, key, error);
    if (attempt >= this.#policy.maxAttempts) {
      const detail = error instanceof Error ? error.message : String(error);
      // Marked not retryable so an outer layer does not start a second round of retries.
      throw Object.assign(
        new LifeboatError("STORE_IO", `${op} "${key}" failed ${attempt} times, giving up: ${detail}`, {
          cause: error,
          // Keep the inner error's remedy: it knows the store (an unreachable endpoint names it).
          ...(error instanceof LifeboatError ? { remedy: error.remedy } : {}),
        }),
        { retryable: false },
      );
    }
    const { baseDelayMs, maxDelayMs } = this.#policy;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.floor(this.#random() * ceiling);
    this.#onRetry?.({ op, key, attempt, delayMs, error });
    await this.#clock.sleep(delayMs);
  }
}

/** Inner stores throw LifeboatErrors; anything else is wrapped so callers see a stable code. */
function asLifeboatError(op: string, key: string, e: unknown): LifeboatError {
  if (e instanceof LifeboatError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new LifeboatError("STORE_IO", `${op} "${key}": ${detail}`, { cause: e });
}
