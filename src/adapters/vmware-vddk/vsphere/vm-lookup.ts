/**
 * Finding a VM the way operators name it: an inventory path (`DC0/vm/folder/web01`), an instance or
 * BIOS UUID, a managed object id (`moref=vm-57`), or a plain name searched across the inventory
 * through a container view (names are unique per folder only, so more than one match is refused).
 */

import { LifeboatError } from "../../../domain/errors.ts";
import type { VimClient } from "../soap/vim-client.ts";
import { moArg } from "../soap/soap-binding.ts";
import type { MoRef } from "../soap/vim-node.ts";
import { retrieveOne, retrieveProperties } from "./property-collector.ts";
import { decodeVimName } from "./vm-inventory.ts";

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const MOREF = /^moref=([A-Za-z0-9_.:-]+)$/;

export async function findVm(client: VimClient, name: string): Promise<MoRef> {
  const trimmed = name.trim();
  if (trimmed === "") throw new LifeboatError("VM_NOT_FOUND", "no VM name was given");
  const moref = MOREF.exec(trimmed);
  if (moref !== null) return byMoref(client, { type: "VirtualMachine", value: moref[1] as string });
  if (trimmed.includes("/")) return byPath(client, trimmed);
  if (UUID.test(trimmed)) {
    const found = (await byUuid(client, trimmed, true)) ?? (await byUuid(client, trimmed, false));
    if (found !== undefined) return found;
  }
  return byName(client, trimmed);
}

async function byMoref(client: VimClient, ref: MoRef): Promise<MoRef> {
  try {
    await retrieveOne(client, ref, ["name"]);
    return ref;
  } catch (e) {
    throw new LifeboatError("VM_NOT_FOUND", `there is no VM ${ref.value} on ${client.url.host}`, {
      cause: e,
    });
  }
}

async function byPath(client: VimClient, path: string): Promise<MoRef> {
  const reply = await client.call("FindByInventoryPath", client.content.searchIndex, { inventoryPath: path });
  const ref = reply.opt("returnval")?.moref();
  if (ref === undefined)
    throw new LifeboatError("VM_NOT_FOUND", `no inventory item at ${path} on ${client.url.host}`);
  if (ref.type !== "VirtualMachine") {
    throw new LifeboatError("VM_NOT_FOUND", `${path} is a ${ref.type}, not a virtual machine`);
  }
  return ref;
}

async function byUuid(client: VimClient, uuid: string, instanceUuid: boolean): Promise<MoRef | undefined> {
  const reply = await client.call("FindByUuid", client.content.searchIndex, {
    uuid,
    vmSearch: true,
    instanceUuid,
  });
  return reply.opt("returnval")?.moref("VirtualMachine");
}

async function byName(client: VimClient, name: string): Promise<MoRef> {
  const viewManager = client.content.viewManager;
  if (viewManager === undefined) {
    throw new LifeboatError("VM_NOT_FOUND", `${client.url.host} has no view manager to search VMs by name`, {
      remedy: "Name the VM by inventory path (DATACENTER/vm/NAME) or by instance UUID.",
    });
  }
  const view = (
    await client.call("CreateContainerView", viewManager, {
      container: moArg(client.content.rootFolder),
      type: ["VirtualMachine"],
      recursive: true,
    })
  )
    .child("returnval")
    .moref();
  try {
    const listed = await retrieveOne(client, view, ["view"]);
    const vms =
      listed.props
        .get("view")
        ?.items()
        .map((item) => item.moref("VirtualMachine")) ?? [];
    const names = await retrieveProperties(client, "VirtualMachine", vms, ["name"]);
    const matches = [...names.values()].filter((o) => {
      const n = o.props.get("name")?.string();
      return n !== undefined && decodeVimName(n) === name;
    });
    if (matches.length === 0)
      throw new LifeboatError("VM_NOT_FOUND", `no VM named ${JSON.stringify(name)} on ${client.url.host}`);
    if (matches.length > 1) {
      throw new LifeboatError(
        "VM_AMBIGUOUS",
        `${matches.length} VMs are named ${JSON.stringify(name)}: ${matches.map((m) => m.obj.value).join(", ")}`,
      );
    }
    return (matches[0] as { obj: MoRef }).obj;
  } finally {
    await client.call("DestroyView", view).catch((e: unknown) => {
      client.log.warn({ err: (e as Error).message }, "DestroyView failed");
    });
  }
}
