import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Envelope } from "../../../src/engine/repository/envelope.ts";
import { chunkData, expectCode, expectSyncCode, MODES, newRepo } from "./helpers.ts";

const REPO = "0123456789abcdef0123456789abcdef";
const OTHER_REPO = "fedcba9876543210fedcba9876543210";

function envelope(mode: (typeof MODES)[number], repoId = REPO, key = new Uint8Array(32).fill(9)): Envelope {
  return new Envelope(repoId, mode === "none" ? undefined : key);
}

describe("sealed object envelope", () => {
  for (const mode of MODES) {
    it(`round-trips compressible, incompressible and empty payloads (${mode})`, () => {
      const env = envelope(mode);
      for (const payload of [chunkData(1, 65536, "text"), chunkData(2, 65536), new Uint8Array(0)]) {
        const sealed = env.seal("chunk/x", payload);
        expect(Buffer.from(sealed.subarray(0, 4)).toString()).toBe("LBS1");
        expect(sealed.length).toBeLessThanOrEqual(payload.length + 49);
        expect(Buffer.from(env.open(sealed, "chunk/x", 65536)).equals(payload)).toBe(true);
      }
    });

    it(`binds an object to its name and repository: opened under another name it is OBJECT_CORRUPT (${mode})`, () => {
      const sealed = envelope(mode).seal("points/web/0000000001", Buffer.from('{"a":1}'));
      expectSyncCode(() => envelope(mode).open(sealed, "points/web/0000000002", 1000), "OBJECT_CORRUPT");
      expectSyncCode(
        () => envelope(mode, OTHER_REPO).open(sealed, "points/web/0000000001", 1000),
        "OBJECT_CORRUPT",
      );
    });

    it(`detects a flipped compression flag and every flipped byte (${mode})`, () => {
      const env = envelope(mode);
      const sealed = env.seal("m", chunkData(3, 4096, "text"));
      expect((sealed[4] as number) & 1).toBe(1);
      for (let p = 0; p < sealed.length; p++) {
        for (const bit of [0x01, 0x80]) {
          const damaged = Uint8Array.from(sealed);
          damaged[p] = (damaged[p] as number) ^ bit;
          expectSyncCode(() => env.open(damaged, "m", 1 << 20), "OBJECT_CORRUPT");
        }
      }
    });

    it(`refuses a payload larger than the caller allows (${mode})`, () => {
      const env = envelope(mode);
      expectSyncCode(
        () => env.open(env.seal("c", chunkData(4, 70_000, "text")), "c", 65536),
        "OBJECT_CORRUPT",
      );
      expectSyncCode(() => env.open(env.seal("c", chunkData(4, 70_000)), "c", 65536), "OBJECT_CORRUPT");
    });
  }

  it("refuses an unencrypted object in an encrypted repository and the other way round", () => {
    const plain = envelope("none").seal("x", Buffer.from("data"));
    const sealed = envelope("aes-256-gcm").seal("x", Buffer.from("data"));
    expectSyncCode(() => envelope("aes-256-gcm").open(plain, "x", 100), "OBJECT_CORRUPT");
    expectSyncCode(() => envelope("none").open(sealed, "x", 100), "OBJECT_CORRUPT");
  });

  it("cannot be opened with another data key", () => {
    const sealed = envelope("aes-256-gcm").seal("x", Buffer.from("data"));
    expectSyncCode(
      () => envelope("aes-256-gcm", REPO, randomBytes(32)).open(sealed, "x", 100),
      "OBJECT_CORRUPT",
    );
  });

  it("never repeats salt and nonce: sealing the same payload twice gives different bytes", () => {
    const env = envelope("aes-256-gcm");
    const a = env.seal("x", Buffer.from("same"));
    const b = env.seal("x", Buffer.from("same"));
    expect(Buffer.from(a).equals(b)).toBe(false);
  });

  for (const mode of MODES) {
    it(`reports OBJECT_CORRUPT for a chunk whose content does not hash to the id it is stored under (${mode})`, async () => {
      const { repo } = await newRepo(mode, { chunkSize: 16384 });
      const writer = repo.createPackWriter();
      const data = chunkData(1, 16384);
      const ref = await writer.add(repo.chunkId(chunkData(2, 16384)), data);
      await writer.flush();
      await expectCode(repo.readChunk(ref), "OBJECT_CORRUPT");
    });
  }
});
