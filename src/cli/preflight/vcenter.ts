/**
 * `lifeboat preflight --vcenter URL --vm NAME`: reads one VM live through vSphere and reports the
 * support limits it hits. Credentials come from LIFEBOAT_VSPHERE_USER / LIFEBOAT_VSPHERE_PASSWORD
 * only (flags show in `ps`), and never reach the log or the report.
 */

import { readFile } from "node:fs/promises";
import { type PreflightFinding, vmPreflight } from "../../adapters/vmware-vddk/preflight/vm-preflight.ts";
import { type Credentials, VimClient } from "../../adapters/vmware-vddk/soap/vim-client.ts";
import { missingPrivileges } from "../../adapters/vmware-vddk/vsphere/privileges.ts";
import {
  readVmInventory,
  allSnapshots,
  type VmInventory,
} from "../../adapters/vmware-vddk/vsphere/vm-inventory.ts";
import { findVm } from "../../adapters/vmware-vddk/vsphere/vm-lookup.ts";
import type { MoRef } from "../../adapters/vmware-vddk/soap/vim-node.ts";
import { LifeboatError } from "../../domain/errors.ts";
import type { Log } from "../../ports/log.ts";

export interface VcenterPreflightOptions {
  readonly vcenter: string;
  readonly vm: string;
  readonly thumbprint?: string;
}

export interface VcenterPreflightReport {
  readonly source: string;
  readonly server: {
    readonly url: string;
    readonly product: string;
    readonly apiVersion: string;
    readonly spoken: string;
  };
  readonly vm: ReturnType<typeof summarise>;
  readonly findings: readonly PreflightFinding[];
}

/** vSphere credentials from the environment, or from a password file named in a config. */
export async function vsphereCredentials(passwordFile?: string, user?: string): Promise<Credentials> {
  const name = user ?? process.env.LIFEBOAT_VSPHERE_USER;
  let password = process.env.LIFEBOAT_VSPHERE_PASSWORD;
  if (passwordFile !== undefined) {
    try {
      password = (await readFile(passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (e) {
      throw new LifeboatError(
        "VSPHERE_CREDENTIALS_REQUIRED",
        `cannot read the vSphere password file ${passwordFile}`,
        {
          cause: e,
        },
      );
    }
  }
  if (name === undefined || name === "" || password === undefined || password === "") {
    throw new LifeboatError(
      "VSPHERE_CREDENTIALS_REQUIRED",
      "no vSphere credentials: LIFEBOAT_VSPHERE_USER and LIFEBOAT_VSPHERE_PASSWORD must both be set",
    );
  }
  return { user: name, password };
}

export async function vcenterPreflight(
  options: VcenterPreflightOptions,
  log: Log,
): Promise<VcenterPreflightReport> {
  const credentials = await vsphereCredentials();
  const client = await VimClient.connect(options.vcenter, {
    credentials,
    log,
    ...(options.thumbprint === undefined ? {} : { thumbprint: options.thumbprint }),
  });
  try {
    const ref = await findVm(client, options.vm);
    const vm = await readVmInventory(client, ref);
    const datastores = uniqueDatastores(vm);
    const missing = await missingPrivileges(client, ref, datastores);
    return {
      source: vm.name,
      server: {
        url: client.url.href,
        product: client.content.about.fullName,
        apiVersion: client.content.about.apiVersion,
        spoken: client.version,
      },
      vm: summarise(vm),
      findings: vmPreflight(vm, { missing }),
    };
  } finally {
    await client.close();
  }
}

function uniqueDatastores(vm: VmInventory): MoRef[] {
  const seen = new Map<string, MoRef>();
  for (const d of vm.config.disks) if (d.datastore !== undefined) seen.set(d.datastore.value, d.datastore);
  return [...seen.values()];
}

function summarise(vm: VmInventory) {
  return {
    ref: vm.ref.value,
    name: vm.name,
    hardwareVersion: vm.config.hardwareVersion,
    powerState: vm.powerState,
    changeTrackingEnabled: vm.config.changeTrackingEnabled,
    changeTrackingSupported: vm.changeTrackingSupported,
    host:
      vm.host === undefined
        ? null
        : { name: vm.host.name ?? vm.host.ref.value, version: vm.host.version ?? null },
    snapshots: allSnapshots(vm.snapshots).map((s) => ({
      ref: s.ref.value,
      name: s.name,
      quiesced: s.quiesced,
    })),
    disks: vm.config.disks.map((d) => ({
      key: d.key,
      label: d.label,
      capacity: d.capacityBytes,
      file: d.fileName,
      mode: d.diskMode ?? null,
      backing: d.backingType,
      sharing: d.sharing ?? null,
      changeId: d.changeId ?? null,
    })),
    passthrough: vm.config.passthrough,
  };
}
