import { describe, expect, it } from "vitest";
import { BlockMap } from "../../../src/domain/block-map.ts";
import { LifeboatError } from "../../../src/domain/errors.ts";
import { readChunks } from "../../../src/engine/chunk-reader.ts";
import type { SourceSnapshot } from "../../../src/ports/source.ts";

describe("chunk reader", () => {
  it("surfaces a read that fails while an earlier read is still pending as the job's error, not a crash", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const snapshot = {
        read: (_disk: string, offset: number, length: number) =>
          offset === 0
            ? new Promise<Uint8Array>((resolve) => setTimeout(() => resolve(new Uint8Array(length)), 50))
            : Promise.reject(new LifeboatError("SOURCE_READ", `bad sector at ${offset}`)),
      } as unknown as SourceSnapshot;
      const chunks = readChunks(snapshot, "d", new BlockMap(4096, 4).addRange(0, 4), {
        chunkSize: 4096,
        capacity: 4 * 4096,
        allocation: null,
        partial: new BlockMap(4096, 4),
        inFlight: 4,
      });
      const seen: number[] = [];
      await expect(
        (async () => {
          for await (const c of chunks) seen.push(c.index);
        })(),
      ).rejects.toMatchObject({ code: "SOURCE_READ" });
      expect(seen).toEqual([0]);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
