/**
 * Certificate thumbprints as vSphere shows them: SHA-1 (vSphere ≤ 7, VDDK's `thumbPrint` field) or
 * SHA-256 (vSphere 8), upper-case hex pairs joined by colons. Operators paste them in every shape
 * (lower case, spaces, no separators, an `SHA1:` label), so parsing normalises, and comparison is
 * on the bytes.
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { LifeboatError } from "../../../domain/errors.ts";

export type ThumbprintAlgorithm = "sha1" | "sha256";

export interface Thumbprint {
  readonly algorithm: ThumbprintAlgorithm;
  readonly bytes: Buffer;
}

/** Parses `AA:BB:…` (20 or 32 bytes), tolerating case, spaces, dashes and a leading algorithm label. */
export function parseThumbprint(text: string): Thumbprint {
  const hex = text
    .trim()
    .replace(/^sha-?(1|256)\s*[:=]\s*/i, "")
    .replace(/[\s:-]/g, "");
  if (!/^[0-9a-fA-F]+$/.test(hex) || (hex.length !== 40 && hex.length !== 64)) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `${JSON.stringify(text)} is not a certificate thumbprint (20 or 32 hex bytes)`,
      { remedy: "Pass the SHA-1 or SHA-256 thumbprint as hex pairs, e.g. 2C:11:ED:…:B9." },
    );
  }
  return { algorithm: hex.length === 40 ? "sha1" : "sha256", bytes: Buffer.from(hex, "hex") };
}

export function formatThumbprint(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
}

export function certificateThumbprint(der: Uint8Array, algorithm: ThumbprintAlgorithm): Buffer {
  return createHash(algorithm).update(der).digest();
}

/** Whether the DER certificate has this thumbprint. */
export function matchesThumbprint(der: Uint8Array, pin: Thumbprint): boolean {
  const actual = certificateThumbprint(der, pin.algorithm);
  return actual.length === pin.bytes.length && timingSafeEqual(actual, pin.bytes);
}

/** Both thumbprints of a certificate, for messages that let an operator verify and pin it. */
export function describeCertificate(der: Uint8Array): string {
  return `SHA-1 ${formatThumbprint(certificateThumbprint(der, "sha1"))}, SHA-256 ${formatThumbprint(certificateThumbprint(der, "sha256"))}`;
}
