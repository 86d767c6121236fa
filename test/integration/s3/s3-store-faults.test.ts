/**
 * S3Store against a deliberately broken endpoint (fake-s3-server.ts): the server defects no real
 * server here shows on demand. Needs no Ceph, so it runs everywhere.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isRetryable, RetryingStore } from "../../../src/adapters/store-decorators/retrying-store.ts";
import { assertCreateOnlyHonoured } from "../../../src/adapters/store-s3/create-only-probe.ts";
import { S3Store, type S3StoreOptions } from "../../../src/adapters/store-s3/s3-store.ts";
import { systemClock } from "../../../src/adapters/system/system-clock.ts";
import { errorCode, lifeboat } from "../../helpers/cli.ts";
import { bytes, expectLifeboatError } from "../../unit/store/object-store-contract.ts";
import { FakeS3Server, sendError } from "./fake-s3-server.ts";

let server: FakeS3Server;
const stores: S3Store[] = [];

function storeOn(options: Partial<S3StoreOptions> = {}): S3Store {
  const store = new S3Store({
    bucket: "bkt",
    prefix: "repo/",
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "fake", secretAccessKey: "fake" },
    ...options,
  });
  stores.push(store);
  return store;
}

const retrying = (store: S3Store) =>
  new RetryingStore(store, { clock: systemClock, policy: { maxAttempts: 4, baseDelayMs: 1 } });

beforeAll(async () => {
  server = await new FakeS3Server().start();
});
afterEach(() => {
  server.interceptor = undefined;
  server.objects.clear();
  server.requests.length = 0;
  for (const store of stores.splice(0)) store.destroy();
});
afterAll(async () => {
  await server.stop();
});

describe("S3Store against a server that misbehaves", () => {
  it("refuses a server that ignores If-None-Match: *, and cleans up its probe", async () => {
    const error = await expectLifeboatError(
      assertCreateOnlyHonoured(storeOn(), "the fake server"),
      "STORE_UNSUPPORTED",
      "If-None-Match",
    );
    expect(error.remedy).toContain("conditional writes");
    expect([...server.objects.keys()]).toEqual([]);
  });

  it("`repo init` on such a server exits 2 with STORE_UNSUPPORTED and creates nothing", async () => {
    const result = await lifeboat(["--json", "repo", "init", "--repo", "s3://bkt/repo"], {
      LIFEBOAT_S3_ENDPOINT: server.endpoint,
      AWS_ACCESS_KEY_ID: "fake",
      AWS_SECRET_ACCESS_KEY: "fake",
      LIFEBOAT_PASSWORD: "pw",
    });
    expect(result.code, result.stderr).toBe(2);
    expect(errorCode(result)).toBe("STORE_UNSUPPORTED");
    expect([...server.objects.keys()]).toEqual([]);
    expect(server.requests.some((r) => r.includes("lifeboat.json") && r.startsWith("PUT"))).toBe(false);
  });

  it("maps SlowDown, 500 and 503 to retryable STORE_IO, and the retrying store gets through", async () => {
    const answers = [
      [503, "SlowDown"],
      [500, "InternalError"],
      [503, "ServiceUnavailable"],
    ] as const;
    let failures = 0;
    server.interceptor = (_req, res) => {
      const answer = answers[failures];
      if (answer === undefined) return false;
      failures++;
      sendError(res, answer[0], answer[1]);
      return true;
    };
    const store = storeOn();
    for (const [, code] of answers) {
      const error = await expectLifeboatError(store.put("packs/aa/1", bytes("p")), "STORE_IO", code);
      expect(isRetryable(error)).toBe(true);
    }
    failures = 0;
    expect(await retrying(store).put("packs/aa/1", bytes("pack"))).toBe("created");
    expect(server.objects.get("bkt/repo/packs/aa/1")).toEqual(Buffer.from("pack"));
  });

  it("treats 409 ConditionalRequestConflict as retryable, never as exists", async () => {
    let conflicts = 1;
    server.interceptor = (_req, res) => {
      if (conflicts-- <= 0) return false;
      sendError(res, 409, "ConditionalRequestConflict");
      return true;
    };
    const store = storeOn();
    const error = await expectLifeboatError(
      store.put("points/s/0000000001", bytes("p"), { ifAbsent: true }),
      "STORE_IO",
      "ConditionalRequestConflict",
    );
    expect(isRetryable(error)).toBe(true);
    expect(server.objects.size).toBe(0);
  });

  it("does not retry a request the server will refuse again (400)", async () => {
    server.interceptor = (_req, res) => {
      sendError(res, 400, "InvalidArgument");
      return true;
    };
    await expectLifeboatError(retrying(storeOn()).get("lifeboat.json"), "STORE_IO", "InvalidArgument");
    expect(server.requests.filter((r) => r.startsWith("GET"))).toHaveLength(1);
  });

  it("retries a GET whose body is cut off mid-transfer", async () => {
    server.objects.set("bkt/repo/packs/bb/1", Buffer.alloc(200_000, 7));
    let cuts = 1;
    server.interceptor = (req, res) => {
      if (req.method !== "GET" || cuts-- <= 0) return false;
      res.writeHead(200, { "Content-Length": 200_000 });
      res.write(Buffer.alloc(50_000, 7), () => res.socket?.destroy());
      return true;
    };
    const store = storeOn();
    const error = await expectLifeboatError(store.get("packs/bb/1"), "STORE_IO", "connection to");
    expect(isRetryable(error)).toBe(true);
    cuts = 1;
    expect((await retrying(store).get("packs/bb/1")).length).toBe(200_000);
  });

  it("fails a request whose answer never comes as a retryable timeout", async () => {
    server.interceptor = () => true; // accept the request, never answer
    const store = storeOn({ socketTimeoutMs: 300 });
    const started = Date.now();
    const error = await expectLifeboatError(store.head("lifeboat.json"), "STORE_IO", "timed out");
    expect(isRetryable(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("cuts the range out of the whole object when a server ignores Range", async () => {
    server.objects.set("bkt/repo/pack", Buffer.from("0123456789"));
    const store = storeOn();
    expect(await store.get("pack", { offset: 3, length: 4 })).toEqual(bytes("3456"));
    await expectLifeboatError(store.get("pack", { offset: 8, length: 3 }), "OBJECT_CORRUPT", "pack");
  });
});
