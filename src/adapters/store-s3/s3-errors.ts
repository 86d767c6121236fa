/**
 * What an S3 failure means to an operator, as a LifeboatError with a stable code. Transient failures
 * are STORE_IO with `retryable: true`, so the RetryingStore (the one place retries live) repeats them;
 * failures that would only repeat themselves are marked `retryable: false`. The SDK's error stays
 * the `cause`. Exported so a fault-injecting decorator can raise exactly what this store raises.
 */

import { LifeboatError } from "../../domain/errors.ts";

export interface S3ErrorContext {
  /** The store operation: put, get, head, list, delete. */
  readonly op: string;
  /** The object key (or list prefix) relative to the repository. */
  readonly key: string;
  /** `s3://bucket/prefix`, for messages. */
  readonly location: string;
  /** The endpoint URL, or "AWS S3"; named when the server cannot be reached. */
  readonly endpoint: string;
}

/** S3 error codes that mean "try again": throttling, server trouble, a request cut short in transit. */
const TRANSIENT_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  // Content-MD5 / length mismatches: the body was damaged or cut in transit; sending it again fixes it.
  "BadDigest",
  "IncompleteBody",
  "XAmzContentSHA256Mismatch",
  // AWS answers 409 to a conditional write racing another on the same key: "retry the upload". The
  // retry then gets 412 (the other landed) or creates the object (it failed). Answering "exists"
  // here could claim an object that never comes to exist.
  "ConditionalRequestConflict",
  "OperationAborted",
]);
const AUTH_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "AllAccessDisabled",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "AccountProblem",
]);
/** Failures to open a connection at all: the request never reached the server. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
]);
/** Failures of an open connection: the request may or may not have reached the server. */
const CONNECTION_CODES = new Set(["ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT"]);

interface ErrorFields {
  readonly name?: unknown;
  readonly Code?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** The HTTP status of an SDK error, if the server answered at all. */
export function httpStatusOf(e: unknown): number | undefined {
  const status = (e as ErrorFields | null)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/** The S3 error code (`NoSuchKey`, `SlowDown`, …) or, for a bodiless answer, the SDK's name for it. */
export function s3CodeOf(e: unknown): string | undefined {
  const fields = e as ErrorFields | null;
  const code = fields?.Code ?? fields?.name;
  return typeof code === "string" ? code : undefined;
}

/** Maps any failure of an S3 request to a LifeboatError; LifeboatErrors pass through unchanged. */
export function mapS3Error(e: unknown, context: S3ErrorContext): LifeboatError {
  if (e instanceof LifeboatError) return e;
  const { op, key, location } = context;
  const what = `${op} "${key}" in ${location}`;
  const status = httpStatusOf(e);
  const code = s3CodeOf(e);
  const detail = status === undefined ? errorText(e) : `${code ?? "error"} (HTTP ${status})`;

  if (code === "CredentialsProviderError" || code === "ProviderError") {
    return new LifeboatError("STORE_AUTH", `${what}: no S3 credentials were found: ${errorText(e)}`, {
      cause: e,
      remedy:
        "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment of the command.",
    });
  }
  if (code === "NoSuchBucket") return bucketMissing(context, e);
  if (code === "NoSuchKey") {
    return new LifeboatError("OBJECT_MISSING", `object "${key}" does not exist in ${location}`, { cause: e });
  }
  if (code === "RequestTimeTooSkewed") {
    return new LifeboatError("STORE_AUTH", `${what}: the server rejected this machine's clock`, {
      cause: e,
      remedy: "Synchronise this machine's clock (NTP); S3 signatures are only valid within minutes.",
    });
  }
  if ((code !== undefined && AUTH_CODES.has(code)) || status === 403 || status === 401) {
    return new LifeboatError("STORE_AUTH", `${what}: the server refused the credentials: ${detail}`, {
      cause: e,
    });
  }
  if (code !== undefined && TRANSIENT_CODES.has(code)) return transient(`${what}: ${detail}`, e);
  if (status !== undefined) {
    if (status >= 500 || status === 429) return transient(`${what}: ${detail}`, e);
    // Any other answer from the server will be the same answer next time.
    return Object.assign(new LifeboatError("STORE_IO", `${what}: ${detail}`, { cause: e }), {
      retryable: false,
    });
  }
  const errno = networkCodeOf(e, UNREACHABLE_CODES);
  if (errno !== undefined || (code === "TimeoutError" && /establish/i.test(errorText(e)))) {
    return transient(`${what}: cannot reach the S3 endpoint ${context.endpoint} (${errorText(e)})`, e, {
      remedy: `Check that the S3 server at ${context.endpoint} is up and reachable from this machine (LIFEBOAT_S3_ENDPOINT, DNS, firewall, proxy), then retry.`,
    });
  }
  if (networkCodeOf(e, CONNECTION_CODES) !== undefined || code === "TimeoutError") {
    return transient(`${what}: the connection to ${context.endpoint} failed (${errorText(e)})`, e);
  }
  // Unknown: leave `retryable` unset so RetryingStore judges by the cause (name, errno, status).
  return new LifeboatError("STORE_IO", `${what}: ${errorText(e)}`, { cause: e });
}

/** The error for a bucket that does not exist. */
export function bucketMissing(context: S3ErrorContext, cause?: unknown): LifeboatError {
  const bucket = context.location.replace(/^s3:\/\//, "").split("/")[0];
  return new LifeboatError(
    "BUCKET_NOT_FOUND",
    `bucket "${bucket}" does not exist at ${context.endpoint} (${context.op} "${context.key}")`,
    { cause },
  );
}

function transient(message: string, cause: unknown, options: { remedy?: string } = {}): LifeboatError {
  return Object.assign(new LifeboatError("STORE_IO", message, { cause, ...options }), { retryable: true });
}

/** The errno-style code in `codes` of a socket failure, looking through the causes the SDK wraps it in. */
function networkCodeOf(e: unknown, codes: ReadonlySet<string>, depth = 0): string | undefined {
  if (typeof e !== "object" || e === null || depth > 4) return undefined;
  const code = (e as ErrorFields).code;
  if (typeof code === "string" && codes.has(code)) return code;
  return networkCodeOf((e as { cause?: unknown }).cause, codes, depth + 1);
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message === "" || e.message === "UnknownError" ? e.name : e.message;
  return String(e);
}
