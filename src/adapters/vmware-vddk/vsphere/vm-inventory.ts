/**
 * Per-VM inventory as the proxy needs it: config (hardware, disks, passthrough devices), power and
 * connection state, CBT support, the snapshot tree, and the ESXi version of the host it runs on
 * (ESXi 5.0/5.1 cannot snapshot disks over 2 TB).
 */

import type { VimClient } from "../soap/vim-client.ts";
import { type MoRef, moRefKey, replyError, type VimNode } from "../soap/vim-node.ts";
import { retrieveOne, retrieveProperties } from "./property-collector.ts";
import { definedOnly, parseVmConfig, type VmConfig } from "./vm-config.ts";

export interface SnapshotNode {
  readonly ref: MoRef;
  /** The name as the API returns it: `%`, `/` and `\` are %-escaped (see `decodeVimName`). */
  readonly name: string;
  readonly description: string;
  readonly id: number;
  readonly createTime: string;
  readonly state: string;
  readonly quiesced: boolean;
  readonly children: readonly SnapshotNode[];
}

export interface HostInfo {
  readonly ref: MoRef;
  readonly name?: string;
  /** ESXi product version (`6.7.0`), when the host could be read. */
  readonly version?: string;
}

export interface VmInventory {
  readonly ref: MoRef;
  readonly name: string;
  readonly config: VmConfig;
  readonly powerState: string;
  readonly connectionState: string;
  readonly consolidationNeeded: boolean;
  readonly changeTrackingSupported: boolean;
  readonly snapshots: readonly SnapshotNode[];
  readonly currentSnapshot?: MoRef;
  readonly host?: HostInfo;
  /** `guest.toolsRunningStatus`: quiescing needs VMware Tools running in the guest. */
  readonly toolsRunning?: boolean;
}

export const VM_PATHS = [
  "name",
  "config",
  "runtime",
  "capability",
  "snapshot",
  "guest.toolsRunningStatus",
] as const;

/** Builds the inventory from the VM's properties (as read with `VM_PATHS`). */
export function parseVmInventory(
  ref: MoRef,
  props: ReadonlyMap<string, VimNode>,
  host?: HostInfo,
): VmInventory {
  const need = (path: string): VimNode => {
    const node = props.get(path);
    if (node === undefined) throw replyError(`${ref.value} came back without its ${path} property`);
    return node;
  };
  const config = parseVmConfig(need("config"));
  const runtime = need("runtime");
  const capability = props.get("capability");
  const snapshot = props.get("snapshot");
  const rawName = props.get("name")?.string() ?? config.name;
  const tools = props.get("guest.toolsRunningStatus")?.string();
  return {
    ref,
    name: decodeVimName(rawName),
    config,
    powerState: runtime.str("powerState"),
    connectionState: runtime.optStr("connectionState") ?? "connected",
    consolidationNeeded: runtime.optBool("consolidationNeeded") ?? false,
    changeTrackingSupported:
      capability?.optBool("changeTrackingSupported") ?? config.hardwareVersionNumber >= 7,
    snapshots: snapshot === undefined ? [] : snapshot.many("rootSnapshotList").map(parseSnapshotTree),
    ...definedOnly({
      currentSnapshot: snapshot?.opt("currentSnapshot")?.moref("VirtualMachineSnapshot"),
      host,
      toolsRunning: tools === undefined ? undefined : tools === "guestToolsRunning",
    }),
  };
}

export function parseSnapshotTree(node: VimNode): SnapshotNode {
  return {
    ref: node.child("snapshot").moref("VirtualMachineSnapshot"),
    name: node.str("name"),
    description: node.optStr("description") ?? "",
    id: node.child("id").int(),
    createTime: node.str("createTime"),
    state: node.str("state"),
    quiesced: node.child("quiesced").bool(),
    children: node.many("childSnapshotList").map(parseSnapshotTree),
  };
}

/** Every snapshot in the tree, depth first. */
export function allSnapshots(roots: readonly SnapshotNode[]): SnapshotNode[] {
  const out: SnapshotNode[] = [];
  const walk = (n: SnapshotNode): void => {
    out.push(n);
    n.children.forEach(walk);
  };
  roots.forEach(walk);
  return out;
}

/** Undoes the API's escaping of entity names (`%25` → `%`, `%2f` → `/`, `%5c` → `\`). */
export function decodeVimName(name: string): string {
  return name.replace(/%(25|2f|5c)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Reads the inventory of one VM, with its host's ESXi version when readable. */
export async function readVmInventory(client: VimClient, ref: MoRef): Promise<VmInventory> {
  const vm = await retrieveOne(client, ref, VM_PATHS);
  const runtime = vm.props.get("runtime");
  const hostRef = runtime?.opt("host")?.moref("HostSystem");
  return parseVmInventory(ref, vm.props, hostRef === undefined ? undefined : await readHost(client, hostRef));
}

async function readHost(client: VimClient, ref: MoRef): Promise<HostInfo> {
  const props = (
    await retrieveProperties(client, "HostSystem", [ref], ["name", "summary.config.product"])
  ).get(moRefKey(ref));
  const product = props?.props.get("summary.config.product");
  return {
    ref,
    ...definedOnly({ name: props?.props.get("name")?.string(), version: product?.optStr("version") }),
  };
}
