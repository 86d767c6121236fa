/**
 * The proxy's configuration file (`lifeboat proxy --config FILE`, JSON): one vCenter, one
 * repository, up to 100 VMs with their schedules. Secrets are not in it: the vSphere password comes
 * from LIFEBOAT_VSPHERE_PASSWORD or a `passwordFile`, the repository passphrase from
 * LIFEBOAT_PASSWORD or `--password-file`.
 */

import { readFile } from "node:fs/promises";
import { z } from "zod";
import { SAFE_NAME } from "../../../domain/disk.ts";
import { LifeboatError } from "../../../domain/errors.ts";

/** The seeds' limit: one sync proxy protects at most 100 hosts. */
export const MAX_VMS = 100;

const vmSchema = z
  .object({
    vm: z.string().min(1),
    name: z.string().regex(SAFE_NAME, "must be letters, digits, '.', '_' or '-'").optional(),
    everyMinutes: z.number().positive().optional(),
    excludeDisks: z.array(z.string()).optional(),
  })
  .strict();

export const proxyConfigSchema = z
  .object({
    proxyId: z.string().regex(SAFE_NAME).optional(),
    repository: z.string().min(1),
    stateDir: z.string().optional(),
    vcenter: z
      .object({
        url: z.string().min(1),
        thumbprint: z.string().optional(),
        caFile: z.string().optional(),
        user: z.string().optional(),
        passwordFile: z.string().optional(),
      })
      .strict(),
    vddk: z
      .object({
        libdir: z.string().min(1),
        configFile: z.string().optional(),
        transports: z
          .string()
          .regex(/^(nbd|nbdssl|hotadd|san)(:(nbd|nbdssl|hotadd|san))*$/)
          .default("nbdssl:nbd"),
      })
      .strict(),
    /** VMs synced at the same time. */
    concurrency: z.number().int().min(1).max(MAX_VMS).default(4),
    /** The seeds' `vmware_release_cpu_time`: a pause (ms) each sync slot takes between VMs; 0 = fastest. */
    releaseCpuMs: z.number().int().min(0).max(600_000).default(0),
    everyMinutes: z.number().positive().default(60),
    /** Per-VM backoff after a failed sync: base·2^(n−1) minutes, capped. */
    backoffMinutes: z
      .object({ base: z.number().positive(), max: z.number().positive() })
      .strict()
      .default({ base: 1, max: 60 }),
    /** Status (`/status`, JSON) and Prometheus metrics (`/metrics`) on this address, e.g. 127.0.0.1:9180. */
    statusListen: z
      .string()
      .regex(/^[\w.:[\]-]+:\d+$/)
      .optional(),
    vms: z.array(vmSchema).min(1).max(MAX_VMS, `a proxy protects at most ${MAX_VMS} VMs`),
  })
  .strict();

export type ProxyConfig = z.infer<typeof proxyConfigSchema>;
export type ProxyVm = z.infer<typeof vmSchema>;

export async function loadProxyConfig(path: string): Promise<ProxyConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `cannot read the proxy configuration ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const parsed = proxyConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LifeboatError(
      "CONFIG_INVALID",
      `${path}: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    );
  }
  const names = parsed.data.vms.map(sourceName);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) {
    throw new LifeboatError("CONFIG_INVALID", `${path}: two VMs would be stored as ${duplicate}`, {
      remedy: "Give each VM a distinct `name`.",
    });
  }
  return parsed.data;
}

/** The repository source name of a VM: its `name`, or its VM name made safe. */
export function sourceName(vm: ProxyVm): string {
  if (vm.name !== undefined) return vm.name;
  const base = vm.vm.split("/").at(-1) ?? vm.vm;
  const safe = base
    .replace(/^moref=/, "")
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/^[^A-Za-z0-9]+/, "");
  return (safe || "vm").slice(0, 120);
}
