import { describe, expect, it } from "vitest";
import { crc32 } from "../../../src/formats/crc32.ts";

describe("CRC-32", () => {
  it("matches the standard check value and composes over pieces", () => {
    const data = new TextEncoder().encode("123456789");
    expect(crc32(data)).toBe(0xcbf43926);
    expect(crc32(data.subarray(4), crc32(data.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});
