/**
 * A real S3 server for one test file: a throw-away Ceph RADOS Gateway on loopback, started by
 * test/peers/ceph-rgw.sh in `beforeAll` (~5 s with memstore) and stopped in `afterAll`. The script's
 * watchdog stops it too if this process dies without running `afterAll`.
 *
 *   const unavailable = rgwUnavailable();      // at collection time: skip loudly, or run
 *   describe.skipIf(unavailable !== undefined)("…", () => {
 *     let rgw: Rgw;
 *     beforeAll(async () => { rgw = await startRgw(); });
 *     afterAll(() => rgw?.stop());
 *   });
 */

import { execFile, spawnSync } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { S3Store, type S3StoreOptions } from "../../../src/adapters/store-s3/s3-store.ts";

const SCRIPT = fileURLToPath(new URL("../../peers/ceph-rgw.sh", import.meta.url));
const run = promisify(execFile);

export interface Rgw {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** A client with the S3 user's keys, for setting up and inspecting buckets behind Lifeboat's back. */
  readonly admin: S3Client;
  /** Environment for a `lifeboat` child process talking to this server (credentials included). */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Creates a bucket with a fresh name and returns the name. */
  createBucket(label: string): Promise<string>;
  /** An S3Store on this server (options override the defaults: the user's keys, path-style). */
  store(bucket: string, prefix: string, options?: Partial<S3StoreOptions>): S3Store;
  /** Keys (relative to the bucket) under `prefix`, in order. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
  /** Deletes every object under `prefix`. */
  empty(bucket: string, prefix: string): Promise<void>;
  stop(): Promise<void>;
}

/** Why no RGW can run on this machine, or undefined if it can. Print it: a skip must be loud. */
export function rgwUnavailable(): string | undefined {
  const probe = spawnSync("bash", ["-c", "command -v ceph-mon ceph-osd radosgw radosgw-admin ceph"], {
    encoding: "utf8",
  });
  if (probe.status === 0) return undefined;
  const reason =
    "Ceph is not installed (apt-get install ceph-mon ceph-osd radosgw; see .ci/apt-packages.txt): the S3 tests against a real RGW are SKIPPED";
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

let bucketCounter = 0;

/** Starts the cluster; a second attempt covers a free port taken by someone else before Ceph bound it. */
async function launch(): Promise<{ dir: string; stdout: string }> {
  let lastFailure = "";
  for (let attempt = 1; attempt <= 2; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), "lifeboat-rgw-"));
    try {
      const { stdout } = await run("bash", [SCRIPT, "start", dir, "--owner", String(process.pid)], {
        timeout: 90_000,
      });
      return { dir, stdout };
    } catch (e) {
      const failure = e as { stderr?: string; message: string };
      lastFailure = `${failure.message}\n${failure.stderr ?? ""}`;
      await run("bash", [SCRIPT, "stop", dir]).catch(() => undefined);
    }
  }
  throw new Error(`Ceph RGW did not start (twice): ${lastFailure}`);
}

export async function startRgw(): Promise<Rgw> {
  const { dir, stdout } = await launch();
  const vars = new Map(
    stdout
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
  );
  const need = (name: string): string => {
    const value = vars.get(name);
    if (value === undefined) throw new Error(`ceph-rgw.sh printed no ${name}: ${stdout}`);
    return value;
  };
  const endpoint = need("S3_ENDPOINT");
  const region = need("AWS_REGION");
  const accessKeyId = need("AWS_ACCESS_KEY_ID");
  const secretAccessKey = need("AWS_SECRET_ACCESS_KEY");
  const credentials = { accessKeyId, secretAccessKey };
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const admin = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });

  const keys = async (bucket: string, prefix = ""): Promise<string[]> => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const entry of page.Contents ?? []) if (entry.Key !== undefined) out.push(entry.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  };

  return {
    endpoint,
    region,
    accessKeyId,
    secretAccessKey,
    admin,
    env: (extra = {}) => ({
      LIFEBOAT_S3_ENDPOINT: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      // No EC2 metadata lookups or shared profile files from the machine running the tests.
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-such-credentials"),
      AWS_CONFIG_FILE: join(dir, "no-such-config"),
      ...extra,
    }),
    createBucket: async (label) => {
      const bucket = `${label}-${process.pid}-${++bucketCounter}`;
      await admin.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    store: (bucket, prefix, options = {}) =>
      new S3Store({ bucket, prefix, endpoint, region, forcePathStyle: true, credentials, ...options }),
    keys,
    empty: async (bucket, prefix) => {
      const all = await keys(bucket, prefix);
      for (let i = 0; i < all.length; i += 1000) {
        await admin.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: all.slice(i, i + 1000).map((Key) => ({ Key })) },
          }),
        );
      }
    },
    stop: async () => {
      admin.destroy();
      await run("bash", [SCRIPT, "stop", dir], { timeout: 60_000 });
    },
  };
}
