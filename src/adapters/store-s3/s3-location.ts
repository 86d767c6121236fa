/**
 * Where an S3 repository lives: `s3://BUCKET/PREFIX` from the command line, and the endpoint, region
 * and addressing style from the environment. Credentials are deliberately absent: the SDK reads them
 * from the environment or a profile, so they never pass through flags (visible in `ps`) or our code.
 */

import { LifeboatError } from "../../domain/errors.ts";
import { segmentProblem } from "../store-fs/object-key.ts";

export interface S3Location {
  readonly bucket: string;
  /** Key prefix of the repository inside the bucket: "" or segments ending in "/". */
  readonly prefix: string;
}

export interface S3Endpoint {
  /** undefined: AWS S3's own endpoint for the region. */
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
}

/**
 * Bucket names as S3-compatible servers accept them. Looser than AWS's current rule (lowercase only)
 * because older AWS buckets and RGW with relaxed names allow capitals and underscores.
 */
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const REPO_FORM = "s3://BUCKET/PREFIX";

/** Parses `s3://BUCKET[/PREFIX]`; the prefix obeys the object key rules so prefix + key is a valid key. */
export function parseS3Url(repo: string): S3Location {
  if (!repo.startsWith("s3://")) throw badRepo(repo, `it does not start with s3://`);
  const rest = repo.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (!BUCKET_NAME.test(bucket)) {
    throw badRepo(repo, `"${bucket}" is not a bucket name (3–255 letters, digits, . _ -)`);
  }
  const segments = (slash < 0 ? "" : rest.slice(slash + 1)).split("/").filter((s) => s !== "");
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw badRepo(repo, `prefix segment "${segment}": ${problem}`);
  }
  return { bucket, prefix: segments.map((s) => `${s}/`).join("") };
}

/**
 * Endpoint from LIFEBOAT_S3_ENDPOINT, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; region from
 * AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1; path-style addressing from
 * LIFEBOAT_S3_PATH_STYLE, by default on exactly when an endpoint is set (self-hosted servers rarely
 * have the wildcard DNS that virtual-hosted buckets need).
 */
export function s3EndpointFromEnv(env: Readonly<Record<string, string | undefined>>): S3Endpoint {
  const named = [
    ["LIFEBOAT_S3_ENDPOINT", env.LIFEBOAT_S3_ENDPOINT],
    ["AWS_ENDPOINT_URL_S3", env.AWS_ENDPOINT_URL_S3],
    ["AWS_ENDPOINT_URL", env.AWS_ENDPOINT_URL],
  ].find(([, value]) => value !== undefined && value !== "");
  const endpoint = named === undefined ? undefined : checkEndpoint(named[0] as string, named[1] as string);
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? "us-east-1";
  const pathStyle = parseFlag("LIFEBOAT_S3_PATH_STYLE", env.LIFEBOAT_S3_PATH_STYLE);
  return {
    ...(endpoint === undefined ? {} : { endpoint }),
    region,
    forcePathStyle: pathStyle ?? endpoint !== undefined,
  };
}

/** The endpoint as the SDK wants it; refuses credentials in the URL (they would show in logs and `ps`). */
function checkEndpoint(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (e) {
    throw new LifeboatError("CONFIG_INVALID", `${variable} is not a URL: ${JSON.stringify(value)}`, {
      cause: e,
      remedy: `Set ${variable} to the server's URL, such as http://127.0.0.1:7480 or https://s3.example.com.`,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LifeboatError("CONFIG_INVALID", `${variable} must be an http:// or https:// URL`, {
      remedy: `Set ${variable} to the server's URL, such as https://s3.example.com.`,
    });
  }
  if (url.username !== "" || url.password !== "") {
    throw new LifeboatError("CONFIG_INVALID", `${variable} holds credentials in the URL`, {
      remedy: `Remove them from ${variable}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead.`,
    });
  }
  return value;
}

function parseFlag(variable: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  if (["1", "true", "yes", "on"].includes(value.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(value.toLowerCase())) return false;
  throw new LifeboatError(
    "CONFIG_INVALID",
    `${variable} must be true or false, got ${JSON.stringify(value)}`,
    {
      remedy: `Set ${variable}=true (path-style URLs) or ${variable}=false (virtual-hosted buckets).`,
    },
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function badRepo(repo: string, problem: string): LifeboatError {
  return new LifeboatError("USAGE", `invalid S3 repository ${JSON.stringify(repo)}: ${problem}`, {
    remedy: `Write the repository as ${REPO_FORM}, for example s3://backups/lifeboat.`,
  });
}
