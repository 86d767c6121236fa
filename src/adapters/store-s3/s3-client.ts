/**
 * The S3 client as Lifeboat needs it, with every setting that matters stated here rather than left to
 * SDK defaults that change between releases (the SDK is pinned at 3.1169.0 for Node 20).
 */

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { S3Endpoint } from "./s3-location.ts";

export interface S3ClientOptions extends S3Endpoint {
  /**
   * For tests only. Without it the SDK's default chain reads the environment (AWS_ACCESS_KEY_ID,
   * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then AWS_PROFILE's files, SSO, web identity, ECS/EC2
   * roles — never a flag, never our code.
   */
  readonly credentials?: S3ClientConfig["credentials"];
  /** Sockets per endpoint; requests beyond it queue in the agent (default 16). */
  readonly maxSockets?: number;
  /** Time allowed to open a connection (default 10 s). */
  readonly connectionTimeoutMs?: number;
  /** A request whose socket is idle this long fails as a retryable timeout (default 60 s). */
  readonly socketTimeoutMs?: number;
}

export const DEFAULT_MAX_SOCKETS = 16;

export function createS3Client(options: S3ClientOptions): S3Client {
  // The pinned SDK supports Node 20; its notice that *later* releases will not would be printed on
  // stderr by every command. Only set when the operator has not chosen otherwise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const agentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? DEFAULT_MAX_SOCKETS,
    // Reuse the most recently used socket: it is the least likely to have been closed by the server.
    scheduling: "lifo" as const,
  };
  return new S3Client({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // Retries live in one place, the RetryingStore around this store, which knows which operations
    // are safe to repeat; SDK retries underneath it would multiply its attempts and hide them.
    maxAttempts: 1,
    // The SDK's default (a CRC32 trailer with aws-chunked streaming on every PUT) gets 411 from RGW 16
    // and other S3 servers. Integrity on writes comes from Content-MD5 instead (see S3Store.put);
    // reads are authenticated by the repository's envelope.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // A bucket in another AWS region answers 301; follow it rather than fail on a region mismatch.
    followRegionRedirects: true,
    requestHandler: new NodeHttpHandler({
      // Agent instances, not options: with its own agents the handler opens a fresh, non-keep-alive
      // connection for every PUT large enough to send `Expect: 100-continue` (every pack).
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: options.connectionTimeoutMs ?? 10_000,
      socketTimeout: options.socketTimeoutMs ?? 60_000,
    }),
  });
}
