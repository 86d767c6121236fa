/** S3Store against a real S3 server (Ceph RGW 16 on loopback): the ObjectStore contract and S3's own failure modes. */

import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isRetryable, RetryingStore } from "../../../src/adapters/store-decorators/retrying-store.ts";
import { assertCreateOnlyHonoured, PROBE_PREFIX } from "../../../src/adapters/store-s3/create-only-probe.ts";
import type { S3Store } from "../../../src/adapters/store-s3/s3-store.ts";
import { systemClock } from "../../../src/adapters/system/system-clock.ts";
import {
  bytes,
  collect,
  describeObjectStoreContract,
  expectLifeboatError,
} from "../../unit/store/object-store-contract.ts";
import { closedPort, failOnce } from "./s3-faults.ts";
import { type Rgw, rgwUnavailable, startRgw } from "./rgw-setup.ts";

const unavailable = rgwUnavailable();

describe.skipIf(unavailable !== undefined)("S3Store on Ceph RGW", () => {
  let rgw: Rgw;
  let bucket: string;
  let prefixes = 0;
  const fresh = (options?: Parameters<Rgw["store"]>[2]): S3Store =>
    rgw.store(bucket, `t${++prefixes}/`, options);

  beforeAll(async () => {
    rgw = await startRgw();
    bucket = await rgw.createBucket("store");
  });
  afterAll(async () => {
    await rgw?.stop();
  });

  describeObjectStoreContract("S3Store", async () => {
    const store = fresh();
    return { store, dispose: async () => store.destroy() };
  });

  it("works at the root of a bucket as well as under a prefix", async () => {
    const own = await rgw.createBucket("root");
    const store = rgw.store(own, "");
    await store.put("lifeboat.json", bytes("{}"), { ifAbsent: true });
    await store.put("packs/ab/1", bytes("pack"));
    expect((await collect(store.list(""))).map((e) => e.key)).toEqual(["lifeboat.json", "packs/ab/1"]);
    expect(await rgw.keys(own)).toEqual(["lifeboat.json", "packs/ab/1"]);
    store.destroy();
  });

  it("keeps repositories under different prefixes of one bucket apart", async () => {
    const a = rgw.store(bucket, "site-a/repo/");
    const b = rgw.store(bucket, "site-a/repo2/");
    await a.put("points/s/1", bytes("a"), { ifAbsent: true });
    expect(await b.put("points/s/1", bytes("b"), { ifAbsent: true })).toBe("created");
    expect(await collect(a.list(""))).toEqual([{ key: "points/s/1", size: 1 }]);
    expect(await b.get("points/s/1")).toEqual(bytes("b"));
    expect(await rgw.keys(bucket, "site-a/")).toEqual(["site-a/repo/points/s/1", "site-a/repo2/points/s/1"]);
    a.destroy();
    b.destroy();
  });

  it("lists page by page in ascending order, skipping names that are not object keys", async () => {
    const store = fresh({ listPageSize: 2 });
    const keys = ["packs/00/a", "packs/00/b", "packs/0a/c", "packs/ff/d", "points/s/0000000001"];
    for (const key of [...keys].reverse()) await store.put(key, bytes(key));
    // Written behind the store's back: a console's folder marker and a name no store could write.
    for (const foreign of ["packs/", "packs/ff/with space", "packs/.hidden"]) {
      await rgw.admin.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${store.prefix}${foreign}`, Body: "x" }),
      );
    }
    expect((await collect(store.list(""))).map((e) => e.key)).toEqual(keys);
    expect((await collect(store.list("packs/0"))).map((e) => e.key)).toEqual(keys.slice(0, 3));
    store.destroy();
  });

  it("honours If-None-Match: *, so the create-only probe of `repo init` passes and leaves nothing", async () => {
    const store = fresh();
    await assertCreateOnlyHonoured(store, "RGW");
    expect(await collect(store.list(PROBE_PREFIX))).toEqual([]);
    store.destroy();
  });

  it("answers exists for a create-only put that landed but was reported lost, once retried", async () => {
    const store = fresh();
    // The server stores the object, then the connection drops before the answer arrives.
    failOnce(store, "after", "points/src/0000000001");
    const retrying = new RetryingStore(store, { clock: systemClock, policy: { baseDelayMs: 1 } });
    expect(await retrying.put("points/src/0000000001", bytes("ours"), { ifAbsent: true })).toBe("exists");
    expect(await store.get("points/src/0000000001")).toEqual(bytes("ours"));
    store.destroy();
  });

  it("refuses a body damaged in transit (Content-MD5) as retryable, and the retry stores it whole", async () => {
    const store = fresh();
    failOnce(store, "corrupt-body", "packs/12/damaged");
    const data = new Uint8Array(100_000).map((_, i) => i % 251);
    const error = await expectLifeboatError(store.put("packs/12/damaged", data), "STORE_IO", "BadDigest");
    expect(isRetryable(error)).toBe(true);
    expect(await store.head("packs/12/damaged")).toBeUndefined();
    expect(await store.put("packs/12/damaged", data)).toBe("created");
    expect(await store.get("packs/12/damaged")).toEqual(data);
    store.destroy();
  });

  it("reports a missing bucket as BUCKET_NOT_FOUND on every operation, HEAD included", async () => {
    const store = rgw.store("no-such-bucket-here", "repo/");
    await expectLifeboatError(store.head("lifeboat.json"), "BUCKET_NOT_FOUND", "no-such-bucket-here");
    await expectLifeboatError(store.get("lifeboat.json"), "BUCKET_NOT_FOUND");
    await expectLifeboatError(
      store.put("lifeboat.json", bytes("{}"), { ifAbsent: true }),
      "BUCKET_NOT_FOUND",
    );
    await expectLifeboatError(collect(store.list("")), "BUCKET_NOT_FOUND");
    await expectLifeboatError(store.delete("x"), "BUCKET_NOT_FOUND");
    store.destroy();
  });

  it("reports a wrong secret or an unknown access key as STORE_AUTH, writing nothing", async () => {
    const prefix = `t${++prefixes}/`;
    for (const credentials of [
      { accessKeyId: rgw.accessKeyId, secretAccessKey: "not-the-secret" },
      { accessKeyId: "NOSUCHKEY", secretAccessKey: rgw.secretAccessKey },
    ]) {
      const store = rgw.store(bucket, prefix, { credentials });
      await expectLifeboatError(store.put("points/s/1", bytes("x"), { ifAbsent: true }), "STORE_AUTH");
      await expectLifeboatError(store.get("points/s/1"), "STORE_AUTH");
      await expectLifeboatError(store.head("points/s/1"), "STORE_AUTH");
      await expectLifeboatError(collect(store.list("")), "STORE_AUTH");
      store.destroy();
    }
    expect(await rgw.keys(bucket, prefix)).toEqual([]);
  });

  it("reports an unreachable endpoint as retryable STORE_IO naming it, until the retries give up", async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const store = rgw.store(bucket, "x/", { endpoint });
    const error = await expectLifeboatError(store.head("lifeboat.json"), "STORE_IO", endpoint);
    expect(isRetryable(error)).toBe(true);
    expect(error.remedy).toContain(endpoint);
    const retrying = new RetryingStore(store, {
      clock: systemClock,
      policy: { maxAttempts: 3, baseDelayMs: 1 },
    });
    const final = await expectLifeboatError(retrying.get("lifeboat.json"), "STORE_IO", "failed 3 times");
    expect(isRetryable(final)).toBe(false);
    store.destroy();
  });
});
