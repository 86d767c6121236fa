import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/adapters/store-memory/memory-store.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { chunkData, expectCode, KDF_COST, MODES, newRepo, PASSWORD } from "./helpers.ts";

function rewriteConfig(store: MemoryStore, change: (config: Record<string, unknown>) => void): void {
  const config = JSON.parse(Buffer.from(store.rawGet("lifeboat.json") as Uint8Array).toString("utf8"));
  change(config);
  store.rawPut("lifeboat.json", Buffer.from(JSON.stringify(config)));
}

describe("repository init and open", () => {
  for (const mode of MODES) {
    it(`reopens a ${mode} repository with the same configuration and reads back what was written`, async () => {
      const { repo, store } = await newRepo(mode);
      const writer = repo.createPackWriter();
      const data = chunkData(1, 65536, "text");
      const ref = await writer.add(repo.chunkId(data), data);
      await writer.flush();

      const reopened = await Repository.open(store, mode === "none" ? undefined : PASSWORD);
      expect(reopened.config).toEqual(repo.config);
      expect(reopened.config).toMatchObject({
        format: "lifeboat",
        version: 1,
        chunkSize: 65536,
        packSize: 8 << 20,
        checkpointEvery: 8,
        compression: "zstd",
        encryption: mode,
        hash: mode === "none" ? "sha256" : "hmac-sha256",
      });
      expect(reopened.config.repoId).toMatch(/^[0-9a-f]{32}$/);
      expect(Buffer.from(await reopened.readChunk(ref)).equals(data)).toBe(true);
      expect(Buffer.from(reopened.chunkId(data)).equals(repo.chunkId(data))).toBe(true);
    });
  }

  it("stores the wrapped master key twice and nothing secret in lifeboat.json", async () => {
    const { store } = await newRepo("aes-256-gcm");
    expect(store.keys()).toEqual(["keys/0", "keys/1", "lifeboat.json"]);
    const copies = ["keys/0", "keys/1"].map((k) =>
      JSON.parse(Buffer.from(store.rawGet(k) as Uint8Array).toString()),
    );
    expect(copies[0].kdf).toMatchObject({ name: "scrypt", N: KDF_COST, r: 8, p: 1 });
    expect(copies[0].kdf.salt).not.toBe(copies[1].kdf.salt);
    expect(copies[0].wrapped).not.toBe(copies[1].wrapped);
  });

  it("refuses a wrong passphrase with PASSWORD_WRONG", async () => {
    const { store } = await newRepo("aes-256-gcm");
    await expectCode(Repository.open(store, "not the passphrase"), "PASSWORD_WRONG");
  });

  it("asks for a passphrase (PASSWORD_REQUIRED) when an encrypted repository is opened without one", async () => {
    const { store } = await newRepo("aes-256-gcm");
    await expectCode(Repository.open(store), "PASSWORD_REQUIRED");
    await expectCode(Repository.init(new MemoryStore(), { encryption: "aes-256-gcm" }), "PASSWORD_REQUIRED");
  });

  for (const damaged of ["keys/0", "keys/1"]) {
    it(`opens with the other key copy when ${damaged} is corrupted or missing`, async () => {
      const { store } = await newRepo("aes-256-gcm");
      const copy = store.rawGet(damaged) as Uint8Array;
      const text = Buffer.from(copy).toString();
      const wrapped = JSON.parse(text).wrapped as string;
      const flipped = Buffer.from(wrapped, "base64");
      flipped[3] = (flipped[3] as number) ^ 1;
      store.rawPut(damaged, Buffer.from(text.replace(wrapped, flipped.toString("base64"))));
      await Repository.open(store, PASSWORD);
      store.rawPut(damaged, Buffer.from("{ not json"));
      await Repository.open(store, PASSWORD);
      store.rawDelete(damaged);
      await Repository.open(store, PASSWORD);
    });
  }

  it("reports REPO_CONFIG_CORRUPT when no key copy is readable", async () => {
    const { store } = await newRepo("aes-256-gcm");
    store.rawPut("keys/0", Buffer.from("garbage"));
    store.rawDelete("keys/1");
    await expectCode(Repository.open(store, PASSWORD), "REPO_CONFIG_CORRUPT");
  });

  it("refuses a repository of an unknown format version with REPO_FORMAT_UNSUPPORTED, naming both versions", async () => {
    const { store } = await newRepo("none");
    rewriteConfig(store, (c) => {
      c.version = 2;
    });
    const error = await expectCode(Repository.open(store), "REPO_FORMAT_UNSUPPORTED");
    expect(error.message).toContain("version 2");
    expect(error.message).toContain("supports version 1");
    rewriteConfig(store, (c) => {
      c.version = 1;
      c.format = "restic";
    });
    await expectCode(Repository.open(store), "REPO_FORMAT_UNSUPPORTED");
  });

  it("reports REPO_NOT_FOUND for a store without lifeboat.json", async () => {
    await expectCode(Repository.open(new MemoryStore(), PASSWORD), "REPO_NOT_FOUND");
  });

  it("reports REPO_CONFIG_CORRUPT for an unparseable or invalid lifeboat.json", async () => {
    const { store } = await newRepo("none");
    store.rawPut("lifeboat.json", Buffer.from('{"format": "lifeboat", "version": 1'));
    await expectCode(Repository.open(store), "REPO_CONFIG_CORRUPT");
    const fresh = await newRepo("none");
    rewriteConfig(fresh.store, (c) => {
      c.chunkSize = 65535;
    });
    await expectCode(Repository.open(fresh.store), "REPO_CONFIG_CORRUPT");
  });

  it("refuses a config downgraded to unencrypted while wrapped keys exist", async () => {
    const { store } = await newRepo("aes-256-gcm");
    rewriteConfig(store, (c) => {
      c.encryption = "none";
      c.hash = "sha256";
    });
    await expectCode(Repository.open(store), "REPO_CONFIG_CORRUPT");
  });

  it("never initialises over an existing repository (REPO_EXISTS) and leaves it untouched", async () => {
    const { store } = await newRepo("aes-256-gcm");
    const before = store.snapshot();
    await expectCode(Repository.init(store, { encryption: "none" }), "REPO_EXISTS");
    await expectCode(
      Repository.init(store, { encryption: "aes-256-gcm", password: "x", kdfCost: KDF_COST }),
      "REPO_EXISTS",
    );
    expect(store.snapshot()).toEqual(before);
  });

  it("refuses chunk and pack sizes outside the format's bounds with CONFIG_INVALID", async () => {
    for (const options of [
      { chunkSize: 8192 },
      { chunkSize: 3 << 16 },
      { chunkSize: 8 << 20 },
      { packSize: 1024 },
    ]) {
      await expectCode(
        Repository.init(new MemoryStore(), { encryption: "none", ...options }),
        "CONFIG_INVALID",
      );
    }
    const { repo } = await newRepo("none", { chunkSize: 16384, packSize: 1 << 20 });
    expect(repo.config).toMatchObject({ chunkSize: 16384, packSize: 1 << 20 });
  });
});

describe("chunk ids", () => {
  it("gives the same plaintext the same id, and different plaintexts different ids", async () => {
    for (const mode of MODES) {
      const { repo } = await newRepo(mode);
      const a = chunkData(1, 65536);
      expect(Buffer.from(repo.chunkId(a)).equals(repo.chunkId(Uint8Array.from(a)))).toBe(true);
      expect(Buffer.from(repo.chunkId(a)).equals(repo.chunkId(chunkData(2, 65536)))).toBe(false);
      expect(repo.chunkId(a)).toHaveLength(32);
    }
  });

  it("uses plain SHA-256 when unencrypted and a repository-specific keyed hash when encrypted", async () => {
    const data = chunkData(7, 65536);
    const sha = createHash("sha256").update(data).digest();
    const plain = (await newRepo("none")).repo;
    expect(Buffer.from(plain.chunkId(data)).equals(sha)).toBe(true);
    const one = (await newRepo("aes-256-gcm")).repo;
    const two = (await newRepo("aes-256-gcm")).repo;
    expect(Buffer.from(one.chunkId(data)).equals(sha)).toBe(false);
    expect(Buffer.from(one.chunkId(data)).equals(two.chunkId(data))).toBe(false);
  });
});
