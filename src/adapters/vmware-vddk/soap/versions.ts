/**
 * API version negotiation. vCenter and ESXi cut every answer down to the version named in the
 * SOAPAction header (`urn:vim25/6.7`), so the client must ask for the newest version both sides
 * know: `backing.changeId` needs 4.0, `capacityInBytes` 5.5, `backing.sharing` 6.0 and
 * `CreateSnapshotEx_Task` 6.5. `/sdk/vimServiceVersions.xml` lists what the server accepts; on 8.0.3
 * its current `<version>` is an opaque build id, so only dotted numbers count.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import { parseXml, type XmlElement } from "./xml.ts";

/** The newest API this client's WSDL subset was written against. */
export const NEWEST_KNOWN_VERSION = "8.0.3.0";
/** changeId and QueryChangedDiskAreas arrived in 4.0. */
export const OLDEST_USABLE_VERSION = "4.0";

const DOTTED = /^\d+(?:\.\d+){1,3}$/;

/** Negative, zero or positive as `a` is older than, equal to or newer than `b` (dotted numbers). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function atLeast(version: string, wanted: string): boolean {
  return compareVersions(version, wanted) >= 0;
}

/** Every vim25 version the server lists (current first), numeric or not. */
export function listedVersions(xml: string): string[] {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    throw new LifeboatError(
      "VSPHERE_REPLY_INVALID",
      `vimServiceVersions.xml is not XML: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (root.local !== "namespaces") {
    throw new LifeboatError("VSPHERE_REPLY_INVALID", `vimServiceVersions.xml has root <${root.local}>`);
  }
  const versions: string[] = [];
  for (const ns of root.all("namespace", "")) {
    if (ns.first("name", "")?.text.trim() !== "urn:vim25") continue;
    const current = ns.first("version", "")?.text.trim();
    if (current !== undefined) versions.push(current);
    for (const v of ns.first("priorVersions", "")?.all("version", "") ?? []) versions.push(v.text.trim());
  }
  return versions;
}

/** The version to speak: the newest dotted version listed that this client knows. */
export function chooseVersion(listed: readonly string[]): string {
  const usable = listed
    .filter((v) => DOTTED.test(v))
    .filter((v) => compareVersions(v, NEWEST_KNOWN_VERSION) <= 0)
    .sort(compareVersions);
  const best = usable.at(-1);
  if (best === undefined || compareVersions(best, OLDEST_USABLE_VERSION) < 0) {
    throw new LifeboatError(
      "VSPHERE_VERSION_UNSUPPORTED",
      `the server offers vim25 ${listed.length === 0 ? "no versions" : listed.join(", ")}; Lifeboat needs ${OLDEST_USABLE_VERSION}–${NEWEST_KNOWN_VERSION}`,
    );
  }
  return best;
}

/** When vimServiceVersions.xml cannot be read: speak the server's own apiVersion, capped at ours. */
export function versionFromApiVersion(apiVersion: string): string {
  if (!DOTTED.test(apiVersion)) return OLDEST_USABLE_VERSION;
  if (compareVersions(apiVersion, NEWEST_KNOWN_VERSION) > 0) return NEWEST_KNOWN_VERSION;
  return chooseVersion([apiVersion]);
}
