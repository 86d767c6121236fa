/**
 * Which of the privileges a sync needs the session lacks (`HasPrivilegeOnEntity`, API 5.5+). The
 * seeds name them loosely ("VirtualMachine.Backup"); these are the real privilege ids behind each
 * step of a sync.
 */

import { isVimFault } from "../soap/envelope.ts";
import type { VimClient } from "../soap/vim-client.ts";
import { moArg } from "../soap/soap-binding.ts";
import type { MoRef } from "../soap/vim-node.ts";

/** On the VM: snapshot, CBT switch, changed-area queries and VDDK reads. */
export const VM_PRIVILEGES = [
  "VirtualMachine.State.CreateSnapshot",
  "VirtualMachine.State.RemoveSnapshot",
  "VirtualMachine.Config.ChangeTracking",
  "VirtualMachine.Provisioning.DiskRandomRead",
  "VirtualMachine.Provisioning.DiskRandomAccess",
  "VirtualMachine.Provisioning.GetVmFiles",
] as const;

/** On each datastore: reading vss-manifest.zip from the VM directory. */
export const DATASTORE_PRIVILEGES = ["Datastore.Browse"] as const;

/** The missing privileges, or undefined when the server cannot answer the question. */
export async function missingPrivileges(
  client: VimClient,
  vm: MoRef,
  datastores: readonly MoRef[],
): Promise<string[] | undefined> {
  const manager = client.content.authorizationManager;
  if (manager === undefined) return undefined;
  const missing: string[] = [];
  try {
    for (const [entity, wanted] of [
      [vm, VM_PRIVILEGES] as const,
      ...datastores.map((d) => [d, DATASTORE_PRIVILEGES] as const),
    ]) {
      const reply = await client.call("HasPrivilegeOnEntity", manager, {
        entity: moArg(entity),
        sessionId: client.sessionKey,
        privId: [...wanted],
      });
      const granted = reply.many("returnval").map((n) => n.bool());
      wanted.forEach((p, i) => {
        if (granted[i] !== true && !missing.includes(p)) missing.push(p);
      });
    }
  } catch (e) {
    if (isVimFault(e, "MethodNotFound", "NotImplemented", "InvalidRequest")) return undefined;
    throw e;
  }
  return missing;
}
