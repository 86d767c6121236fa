/** Loads the recorded vSphere replies in test/fixtures/vsphere (see its README for provenance). */

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readReply } from "../../../src/adapters/vmware-vddk/soap/envelope.ts";
import { VimNode } from "../../../src/adapters/vmware-vddk/soap/vim-node.ts";
import { parseXml } from "../../../src/adapters/vmware-vddk/soap/xml.ts";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/vsphere/", import.meta.url));

export function fixture(path: string): string {
  return readFileSync(`${FIXTURES}${path}`, "utf8");
}

/** Every recorded response body, as `dir/file`. */
export function recordedResponses(): string[] {
  const xml = readdirSync(`${FIXTURES}xml`).filter((f) => f.includes("response") || f.includes("Response"));
  const govmomi = readdirSync(`${FIXTURES}govmomi`);
  return [...xml.map((f) => `xml/${f}`), ...govmomi.map((f) => `govmomi/${f}`)].sort();
}

/** The operation a fixture answers, from its file name (`RetrievePropertiesEx-VirtualMachine.config-response-1.xml`). */
export function operationOf(path: string): string {
  const base = path.slice(path.indexOf("/") + 1);
  return base.slice(0, base.search(/[-.]/));
}

/** The response element of an enveloped fixture (HTTP 200), as the client would see it. */
export function response(path: string): VimNode {
  const op = operationOf(path);
  return new VimNode(readReply(fixture(path), op, 200), op);
}

/** The root of a bare-body fixture (govmomi's). */
export function bare(path: string): VimNode {
  const root = parseXml(fixture(path));
  return new VimNode(root, root.local);
}

/** The `val` of the only property of the only object of a RetrievePropertiesEx fixture. */
export function propertyValue(path: string): VimNode {
  const objects = response(path).child("returnval").child("objects");
  return objects.child("propSet").child("val");
}
