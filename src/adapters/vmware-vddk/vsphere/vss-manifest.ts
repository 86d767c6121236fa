/**
 * Application- versus file-system consistency of a quiesced Windows snapshot. VMware Tools leaves
 * `vss-manifest*.zip` in the VM's snapshot directory: the VSS backup components document alone
 * means file-system quiescing, writer manifests beside it mean the applications' writers took part
 * (VDDK programming guide, "Application-Consistent Backup and Restore"). The file is found among
 * the VM's files (`layoutEx.file`) and read over the datastore HTTP interface.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import type { Consistency } from "../../../domain/snapshot.ts";
import type { VimClient } from "../soap/vim-client.ts";
import type { MoRef } from "../soap/vim-node.ts";
import { retrieveOne } from "./property-collector.ts";

const MANIFEST = /vss[-_]?manifest[^/]*\.zip$/i;
const MAX_MANIFEST = 16 << 20;

/** The datastore path of the manifest of snapshot number `snapshotId`, if the VM has one. */
export async function findManifest(
  client: VimClient,
  vm: MoRef,
  snapshotId: number,
): Promise<string | undefined> {
  const files = (await retrieveOne(client, vm, ["layoutEx.file"])).props.get("layoutEx.file");
  const names = (files?.items() ?? []).map((f) => f.str("name")).filter((n) => MANIFEST.test(n));
  const exact = names.find((n) => new RegExp(`manifest-?${snapshotId}\\.zip$`, "i").test(n));
  return exact ?? (names.length === 1 ? names[0] : undefined);
}

/** The name of the datacenter holding `entity` (the `dcPath` of datastore URLs). */
export async function datacenterName(client: VimClient, entity: MoRef): Promise<string> {
  let ref = entity;
  for (let hops = 0; hops < 32; hops++) {
    if (ref.type === "Datacenter") {
      return (await retrieveOne(client, ref, ["name"])).props.get("name")?.string() ?? ref.value;
    }
    const parent = (await retrieveOne(client, ref, ["parent"])).props.get("parent");
    if (parent === undefined) break;
    ref = parent.moref();
  }
  throw new LifeboatError("VSPHERE_REPLY_INVALID", `${entity.value} has no datacenter above it`);
}

/** Downloads `[datastore] dir/file` through `/folder/…?dcPath=…&dsName=…`. */
export async function downloadDatastoreFile(
  client: VimClient,
  datastorePath: string,
  datacenter: string,
): Promise<Buffer> {
  const m = /^\[([^\]]+)\] ?(.+)$/.exec(datastorePath);
  if (m === null)
    throw new LifeboatError(
      "VSPHERE_REPLY_INVALID",
      `${JSON.stringify(datastorePath)} is not a datastore path`,
    );
  const path = (m[2] as string).split("/").map(encodeURIComponent).join("/");
  const query = new URLSearchParams({ dcPath: datacenter, dsName: m[1] as string });
  const reply = await client.transport.send("GET", `/folder/${path}?${query.toString()}`);
  if (reply.status !== 200) {
    throw new LifeboatError("VSPHERE_FAULT", `GET ${datastorePath} answered HTTP ${reply.status}`);
  }
  if (reply.body.length > MAX_MANIFEST)
    throw new LifeboatError("VSPHERE_REPLY_INVALID", `${datastorePath} is larger than a VSS manifest can be`);
  return reply.body;
}

/** Names of the entries of a zip archive, from its central directory. */
export function zipEntries(zip: Buffer): string[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0 || eocd + 22 > zip.length)
    throw new LifeboatError("VSPHERE_REPLY_INVALID", "the VSS manifest is not a zip archive");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== 0x02014b50) {
      throw new LifeboatError("VSPHERE_REPLY_INVALID", "the VSS manifest's zip directory is damaged");
    }
    const nameLength = zip.readUInt16LE(at + 28);
    const extra = zip.readUInt16LE(at + 30);
    const comment = zip.readUInt16LE(at + 32);
    names.push(zip.toString("utf8", at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

/** Writer manifests beside the backup components document mean application consistency. */
export function manifestConsistency(entries: readonly string[]): Consistency {
  const writers = entries.filter((e) => !/backup_?components/i.test(e) && !e.endsWith("/"));
  return writers.length > 0 ? "application" : "filesystem";
}
