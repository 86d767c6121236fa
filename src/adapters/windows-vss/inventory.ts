/**
 * The Windows host inventory: everything preflight judges, collected on the host by
 * `lifeboat agent --collect-inventory` and evaluated anywhere by `lifeboat preflight --inventory`.
 * The schema is the contract between the two (docs/windows-agent.md, "Inventory").
 */

import { z } from "zod";
import { LifeboatError } from "../../domain/errors.ts";

export const INVENTORY_SCHEMA = "lifeboat.windows-inventory/1";

const bytes = z.number().int().nonnegative();

const PartitionSchema = z.object({
  number: z.number().int().nonnegative(),
  offset: bytes,
  length: bytes,
  /** MBR type byte as hex ("0x07") or GPT type GUID. */
  type: z.string(),
  name: z.string().optional(),
  active: z.boolean().optional(),
});

const DiskSchema = z.object({
  /** Stable id: gpt-<disk GUID> or mbr-<signature>; what EXCLUDE_DISKS names. */
  id: z.string().min(1),
  number: z.number().int().nonnegative(),
  capacity: bytes,
  sectorSize: z.number().int().positive(),
  partitionStyle: z.enum(["mbr", "gpt", "raw"]),
  online: z.boolean(),
  readOnly: z.boolean().default(false),
  /** A failover-cluster disk, visible to other hosts too. */
  shared: z.boolean().default(false),
  /** Managed by the Logical Disk Manager. */
  dynamic: z.boolean().default(false),
  /** Holds the Windows volume or the system (boot loader) partition. */
  boot: z.boolean().default(false),
  /** The id follows enumeration order because the disk has no signature or GUID. */
  unstableId: z.boolean().default(false),
  partitions: z.array(PartitionSchema).default([]),
});

const VolumeSchema = z.object({
  /** \\?\Volume{GUID}\ */
  id: z.string().min(1),
  mountPoints: z.array(z.string()).default([]),
  label: z.string().optional(),
  fileSystem: z.string(),
  capacity: bytes,
  freeBytes: bytes,
  clusterSize: z.number().int().positive().optional(),
  layout: z.enum(["partition", "simple", "spanned", "striped", "mirror", "raid5"]).default("partition"),
  extents: z.array(z.object({ diskId: z.string(), offset: bytes, length: bytes })).min(1),
  /** Holds the Windows directory. */
  windows: z.boolean().default(false),
});

const ServiceSchema = z.object({
  name: z.string(),
  displayName: z.string().default(""),
  state: z.enum(["running", "stopped", "paused", "starting", "stopping", "unknown"]),
  startType: z.enum(["boot", "system", "auto", "manual", "disabled", "unknown"]).default("unknown"),
  binaryPath: z.string().optional(),
});

export const InventorySchema = z.object({
  schema: z.literal(INVENTORY_SCHEMA),
  collectedAt: z.string().datetime(),
  host: z.object({
    name: z.string().min(1),
    os: z.object({
      caption: z.string().optional(),
      /** major.minor.build, e.g. 10.0.17763 (Server 2019), 6.1.7601 (2008 R2 SP1). */
      version: z.string().regex(/^\d+\.\d+(\.\d+)?$/),
      productType: z.enum(["workstation", "server", "domain-controller"]),
      architecture: z.enum(["x64", "x86", "arm64", "unknown"]),
    }),
    firmware: z.enum(["uefi", "bios", "unknown"]),
    elevated: z.boolean(),
    memory: z.object({ totalBytes: bytes, availableBytes: bytes }),
    codePage: z.object({ ansi: z.number().int(), oem: z.number().int() }).optional(),
    hypervisor: z.object({ present: z.boolean(), vendor: z.string().optional() }),
    hotfixes: z.array(z.string()).default([]),
    timeSync: z.object({
      service: z.enum(["running", "stopped", "disabled", "missing"]),
      lastSyncAt: z.string().datetime().optional(),
      source: z.string().optional(),
    }),
  }),
  services: z.array(ServiceSchema).default([]),
  changeTracking: z.object({ driver: z.boolean() }).default({ driver: false }),
  disks: z.array(DiskSchema),
  volumes: z.array(VolumeSchema).default([]),
});

export type Inventory = z.infer<typeof InventorySchema>;
export type InventoryDisk = Inventory["disks"][number];
export type InventoryVolume = Inventory["volumes"][number];
export type InventoryService = Inventory["services"][number];

/** Validates an inventory, naming the first bad field in the error. */
export function parseInventory(value: unknown, origin: string): Inventory {
  const result = InventorySchema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined ? "" : issue.path.join(".");
  throw new LifeboatError(
    "CONFIG_INVALID",
    `${origin}: ${path === "" ? "the inventory" : path}: ${issue?.message ?? "invalid"}`,
    {
      remedy: `Collect the inventory again with \`lifeboat agent --collect-inventory\` on the host, or fix ${path || "the file"} (schema ${INVENTORY_SCHEMA}, docs/windows-agent.md).`,
    },
  );
}
