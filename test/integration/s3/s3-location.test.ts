/** How `s3://BUCKET/PREFIX` and the S3 environment variables are read (pure: no server needed). */

import { describe, expect, it } from "vitest";
import { parseS3Url, s3EndpointFromEnv } from "../../../src/adapters/store-s3/s3-location.ts";
import { LifeboatError } from "../../../src/domain/errors.ts";

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (e) {
    return e instanceof LifeboatError ? e.code : `not a LifeboatError: ${String(e)}`;
  }
  return undefined;
}

describe("S3 repository locations", () => {
  it("splits bucket and prefix, normalising slashes so prefix + key is always a clean key", () => {
    expect(parseS3Url("s3://backups")).toEqual({ bucket: "backups", prefix: "" });
    expect(parseS3Url("s3://backups/")).toEqual({ bucket: "backups", prefix: "" });
    expect(parseS3Url("s3://backups/site-a/lifeboat")).toEqual({
      bucket: "backups",
      prefix: "site-a/lifeboat/",
    });
    expect(parseS3Url("s3://backups//site-a/")).toEqual({ bucket: "backups", prefix: "site-a/" });
    expect(parseS3Url("s3://Legacy_Bucket.1/x")).toEqual({ bucket: "Legacy_Bucket.1", prefix: "x/" });
  });

  it("refuses a malformed repository as a usage error", () => {
    for (const repo of [
      "s3://",
      "s3://x",
      "s3:///prefix",
      "s3://has space/x",
      "s3://bkt/../escape",
      "s3://bkt/a/.tmp",
      "s3://bkt/x:y",
    ]) {
      expect(
        codeOf(() => parseS3Url(repo)),
        repo,
      ).toBe("USAGE");
    }
  });

  it("takes the endpoint from LIFEBOAT_S3_ENDPOINT before AWS_ENDPOINT_URL_S3, with path-style on by default", () => {
    expect(
      s3EndpointFromEnv({
        LIFEBOAT_S3_ENDPOINT: "http://127.0.0.1:7480",
        AWS_ENDPOINT_URL_S3: "http://other",
      }),
    ).toEqual({ endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: true });
    expect(
      s3EndpointFromEnv({ AWS_ENDPOINT_URL_S3: "https://s3.example.com", AWS_REGION: "eu-west-3" }),
    ).toEqual({
      endpoint: "https://s3.example.com",
      region: "eu-west-3",
      forcePathStyle: true,
    });
  });

  it("uses AWS S3 itself, virtual-hosted, when no endpoint is set; LIFEBOAT_S3_PATH_STYLE overrides", () => {
    expect(s3EndpointFromEnv({ AWS_DEFAULT_REGION: "ap-south-1" })).toEqual({
      region: "ap-south-1",
      forcePathStyle: false,
    });
    expect(s3EndpointFromEnv({ LIFEBOAT_S3_PATH_STYLE: "true" }).forcePathStyle).toBe(true);
    expect(
      s3EndpointFromEnv({ LIFEBOAT_S3_ENDPOINT: "http://minio:9000", LIFEBOAT_S3_PATH_STYLE: "0" })
        .forcePathStyle,
    ).toBe(false);
  });

  it("refuses a bad endpoint or flag, and credentials in the endpoint URL, as configuration errors", () => {
    for (const env of [
      { LIFEBOAT_S3_ENDPOINT: "127.0.0.1:7480" },
      { LIFEBOAT_S3_ENDPOINT: "ftp://host" },
      { LIFEBOAT_S3_ENDPOINT: "http://key:secret@host" },
      { LIFEBOAT_S3_PATH_STYLE: "sometimes" },
    ]) {
      expect(
        codeOf(() => s3EndpointFromEnv(env)),
        JSON.stringify(env),
      ).toBe("CONFIG_INVALID");
    }
  });
});
