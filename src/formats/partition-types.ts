/** Names and roles of the partition types Lifeboat cares about (MBR type bytes and GPT type GUIDs). */

/** MBR types that hold a chain of extended boot records rather than data. */
export const MBR_EXTENDED_TYPES: ReadonlySet<number> = new Set([0x05, 0x0f, 0x85]);
export const MBR_PROTECTIVE_GPT = 0xee;
/** Windows dynamic disk (the LDM database and its volumes live in this one partition). */
export const MBR_LDM = 0x42;

const MBR_NAMES: Readonly<Record<number, string>> = {
  0x01: "FAT12",
  0x04: "FAT16 <32M",
  0x05: "Extended",
  0x06: "FAT16",
  0x07: "HPFS/NTFS/exFAT",
  0x0b: "W95 FAT32",
  0x0c: "W95 FAT32 (LBA)",
  0x0e: "W95 FAT16 (LBA)",
  0x0f: "W95 Ext'd (LBA)",
  0x11: "Hidden FAT12",
  0x12: "Compaq diagnostics",
  0x17: "Hidden HPFS/NTFS",
  0x1b: "Hidden W95 FAT32",
  0x27: "Hidden NTFS WinRE",
  0x42: "Windows dynamic disk (LDM)",
  0x82: "Linux swap",
  0x83: "Linux",
  0x85: "Linux extended",
  0x8e: "Linux LVM",
  0xa5: "FreeBSD",
  0xee: "GPT protective",
  0xef: "EFI (FAT-12/16/32)",
  0xfd: "Linux raid autodetect",
};

export function mbrTypeName(type: number): string {
  return MBR_NAMES[type] ?? "unknown";
}

export const GPT_LDM_METADATA = "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3";
export const GPT_LDM_DATA = "AF9B60A0-1431-4F62-BC68-3311714A69AD";
export const GPT_BASIC_DATA = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

const GPT_NAMES: Readonly<Record<string, string>> = {
  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "EFI System",
  "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "Microsoft reserved",
  [GPT_BASIC_DATA]: "Microsoft basic data",
  [GPT_LDM_METADATA]: "Microsoft LDM metadata",
  [GPT_LDM_DATA]: "Microsoft LDM data",
  "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "Windows recovery environment",
  "E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D": "Microsoft Storage Spaces",
  "21686148-6449-6E6F-744E-656564454649": "BIOS boot",
  "0FC63DAF-8483-4772-8E79-3D69D8477DE4": "Linux filesystem",
  "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "Linux swap",
  "E6D6D379-F507-44C2-A23C-238F2A3DF928": "Linux LVM",
  "A19D880F-05FC-4D3B-A006-743F0F84911E": "Linux RAID",
  "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "Linux root (x86-64)",
};

export function gptTypeName(guid: string): string {
  return GPT_NAMES[guid] ?? "unknown";
}
