import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DISK_EXTENTS,
  DISK_GEOMETRY_EX,
  DRIVE_LAYOUT,
  IOCTL,
  MFT_ENUM_DATA,
  NTFS_VOLUME_DATA,
  PARTITION_ENTRY,
  READ_USN_JOURNAL,
  RETRIEVAL_POINTERS,
  USN_JOURNAL_DATA,
  USN_REASON,
  USN_V2,
  VOLUME_BITMAP,
} from "../../../src/formats/windows/layout.ts";
import { MINGW_CXX, MINGW_OBJCOPY, ROOT, run, skipReason } from "./toolchain.ts";

/** What the parsers assume, in the order layout_probe.cc writes MinGW's values. */
const EXPECTED: ReadonlyArray<readonly [string, number]> = [
  ["VOLUME_BITMAP_BUFFER.StartingLcn", VOLUME_BITMAP.startingLcn],
  ["VOLUME_BITMAP_BUFFER.BitmapSize", VOLUME_BITMAP.bitmapSize],
  ["VOLUME_BITMAP_BUFFER.Buffer", VOLUME_BITMAP.buffer],
  ["RETRIEVAL_POINTERS_BUFFER.ExtentCount", RETRIEVAL_POINTERS.extentCount],
  ["RETRIEVAL_POINTERS_BUFFER.StartingVcn", RETRIEVAL_POINTERS.startingVcn],
  ["RETRIEVAL_POINTERS_BUFFER.Extents", RETRIEVAL_POINTERS.extents],
  ["sizeof extent", RETRIEVAL_POINTERS.extentSize],
  ["USN_RECORD.RecordLength", USN_V2.recordLength],
  ["USN_RECORD.MajorVersion", USN_V2.majorVersion],
  ["USN_RECORD.FileReferenceNumber", USN_V2.fileReference],
  ["USN_RECORD.ParentFileReferenceNumber", USN_V2.parentReference],
  ["USN_RECORD.Usn", USN_V2.usn],
  ["USN_RECORD.TimeStamp", USN_V2.timeStamp],
  ["USN_RECORD.Reason", USN_V2.reason],
  ["USN_RECORD.SourceInfo", USN_V2.sourceInfo],
  ["USN_RECORD.SecurityId", USN_V2.securityId],
  ["USN_RECORD.FileAttributes", USN_V2.fileAttributes],
  ["USN_RECORD.FileNameLength", USN_V2.fileNameLength],
  ["USN_RECORD.FileNameOffset", USN_V2.fileNameOffset],
  ["USN_RECORD.FileName", USN_V2.fileName],
  ["sizeof USN_JOURNAL_DATA", USN_JOURNAL_DATA.sizeV0],
  ["USN_JOURNAL_DATA.FirstUsn", USN_JOURNAL_DATA.firstUsn],
  ["USN_JOURNAL_DATA.NextUsn", USN_JOURNAL_DATA.nextUsn],
  ["USN_JOURNAL_DATA.LowestValidUsn", USN_JOURNAL_DATA.lowestValidUsn],
  ["USN_JOURNAL_DATA.MaxUsn", USN_JOURNAL_DATA.maxUsn],
  ["sizeof READ_USN_JOURNAL_DATA", READ_USN_JOURNAL.sizeV0],
  ["READ_USN_JOURNAL_DATA.UsnJournalID", READ_USN_JOURNAL.journalId],
  ["DRIVE_LAYOUT_INFORMATION_EX.PartitionStyle", DRIVE_LAYOUT.partitionStyle],
  ["DRIVE_LAYOUT_INFORMATION_EX.PartitionCount", DRIVE_LAYOUT.partitionCount],
  ["DRIVE_LAYOUT_INFORMATION_EX.Mbr", DRIVE_LAYOUT.union],
  ["DRIVE_LAYOUT_INFORMATION_EX.PartitionEntry", DRIVE_LAYOUT.partitionEntry],
  ["DRIVE_LAYOUT_INFORMATION_MBR.Signature", DRIVE_LAYOUT.mbrSignature - DRIVE_LAYOUT.union],
  ["DRIVE_LAYOUT_INFORMATION_GPT.DiskId", DRIVE_LAYOUT.gptDiskId - DRIVE_LAYOUT.union],
  [
    "DRIVE_LAYOUT_INFORMATION_GPT.StartingUsableOffset",
    DRIVE_LAYOUT.gptStartingUsableOffset - DRIVE_LAYOUT.union,
  ],
  ["DRIVE_LAYOUT_INFORMATION_GPT.UsableLength", DRIVE_LAYOUT.gptUsableLength - DRIVE_LAYOUT.union],
  ["DRIVE_LAYOUT_INFORMATION_GPT.MaxPartitionCount", DRIVE_LAYOUT.gptMaxPartitionCount - DRIVE_LAYOUT.union],
  ["sizeof PARTITION_INFORMATION_EX", PARTITION_ENTRY.size],
  ["PARTITION_INFORMATION_EX.StartingOffset", PARTITION_ENTRY.startingOffset],
  ["PARTITION_INFORMATION_EX.PartitionLength", PARTITION_ENTRY.partitionLength],
  ["PARTITION_INFORMATION_EX.PartitionNumber", PARTITION_ENTRY.partitionNumber],
  ["PARTITION_INFORMATION_EX.RewritePartition", PARTITION_ENTRY.rewritePartition],
  ["PARTITION_INFORMATION_EX.Mbr", PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_MBR.PartitionType", PARTITION_ENTRY.mbrType - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_MBR.BootIndicator", PARTITION_ENTRY.mbrBootIndicator - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_MBR.RecognizedPartition", PARTITION_ENTRY.mbrRecognized - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_MBR.HiddenSectors", PARTITION_ENTRY.mbrHiddenSectors - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_GPT.PartitionType", PARTITION_ENTRY.gptType - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_GPT.PartitionId", PARTITION_ENTRY.gptId - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_GPT.Attributes", PARTITION_ENTRY.gptAttributes - PARTITION_ENTRY.union],
  ["PARTITION_INFORMATION_GPT.Name", PARTITION_ENTRY.gptName - PARTITION_ENTRY.union],
  ["sizeof PARTITION_INFORMATION_GPT.Name", PARTITION_ENTRY.gptNameBytes],
  ["VOLUME_DISK_EXTENTS.Extents", DISK_EXTENTS.extents],
  ["sizeof DISK_EXTENT", DISK_EXTENTS.extentSize],
  ["DISK_EXTENT.StartingOffset", DISK_EXTENTS.startingOffset],
  ["DISK_EXTENT.ExtentLength", DISK_EXTENTS.extentLength],
  ["DISK_GEOMETRY_EX.DiskSize", DISK_GEOMETRY_EX.diskSize],
  ["DISK_GEOMETRY.BytesPerSector", DISK_GEOMETRY_EX.bytesPerSector],
  ["sizeof NTFS_VOLUME_DATA_BUFFER", NTFS_VOLUME_DATA.size],
  ["NTFS_VOLUME_DATA_BUFFER.TotalClusters", NTFS_VOLUME_DATA.totalClusters],
  ["NTFS_VOLUME_DATA_BUFFER.BytesPerCluster", NTFS_VOLUME_DATA.bytesPerCluster],
  ["NTFS_VOLUME_DATA_BUFFER.BytesPerFileRecordSegment", NTFS_VOLUME_DATA.bytesPerFileRecordSegment],
  ["NTFS_VOLUME_DATA_BUFFER.MftValidDataLength", NTFS_VOLUME_DATA.mftValidDataLength],
  ["NTFS_VOLUME_DATA_BUFFER.MftStartLcn", NTFS_VOLUME_DATA.mftStartLcn],
  ["NTFS_VOLUME_DATA_BUFFER.Mft2StartLcn", NTFS_VOLUME_DATA.mft2StartLcn],
  ["FSCTL_GET_VOLUME_BITMAP", IOCTL.FSCTL_GET_VOLUME_BITMAP],
  ["FSCTL_GET_RETRIEVAL_POINTERS", IOCTL.FSCTL_GET_RETRIEVAL_POINTERS],
  ["FSCTL_GET_NTFS_VOLUME_DATA", IOCTL.FSCTL_GET_NTFS_VOLUME_DATA],
  ["FSCTL_IS_VOLUME_DIRTY", IOCTL.FSCTL_IS_VOLUME_DIRTY],
  ["FSCTL_QUERY_USN_JOURNAL", IOCTL.FSCTL_QUERY_USN_JOURNAL],
  ["FSCTL_READ_USN_JOURNAL", IOCTL.FSCTL_READ_USN_JOURNAL],
  ["IOCTL_DISK_GET_DRIVE_LAYOUT_EX", IOCTL.IOCTL_DISK_GET_DRIVE_LAYOUT_EX],
  ["IOCTL_DISK_GET_DRIVE_GEOMETRY_EX", IOCTL.IOCTL_DISK_GET_DRIVE_GEOMETRY_EX],
  ["IOCTL_DISK_GET_LENGTH_INFO", IOCTL.IOCTL_DISK_GET_LENGTH_INFO],
  ["IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS", IOCTL.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS],
  ["IOCTL_VOLUME_LOGICAL_TO_PHYSICAL", IOCTL.IOCTL_VOLUME_LOGICAL_TO_PHYSICAL],
  ["IOCTL_STORAGE_QUERY_PROPERTY", IOCTL.IOCTL_STORAGE_QUERY_PROPERTY],
  ["IOCTL_VOLUME_PHYSICAL_TO_LOGICAL", IOCTL.IOCTL_VOLUME_PHYSICAL_TO_LOGICAL],
  ["FSCTL_ENUM_USN_DATA", IOCTL.FSCTL_ENUM_USN_DATA],
  ["sizeof MFT_ENUM_DATA (V0)", MFT_ENUM_DATA.lowUsn + 16],
  ["MFT_ENUM_DATA.HighUsn", MFT_ENUM_DATA.highUsn],
  ["USN_REASON_DATA_OVERWRITE", USN_REASON.DATA_OVERWRITE],
  ["USN_REASON_DATA_EXTEND", USN_REASON.DATA_EXTEND],
  ["USN_REASON_DATA_TRUNCATION", USN_REASON.DATA_TRUNCATION],
  ["USN_REASON_NAMED_DATA_OVERWRITE", USN_REASON.NAMED_DATA_OVERWRITE],
  ["USN_REASON_NAMED_DATA_EXTEND", USN_REASON.NAMED_DATA_EXTEND],
  ["USN_REASON_NAMED_DATA_TRUNCATION", USN_REASON.NAMED_DATA_TRUNCATION],
  ["USN_REASON_FILE_CREATE", USN_REASON.FILE_CREATE],
  ["USN_REASON_FILE_DELETE", USN_REASON.FILE_DELETE],
  ["USN_REASON_STREAM_CHANGE", USN_REASON.STREAM_CHANGE],
  ["USN_REASON_CLOSE", USN_REASON.CLOSE],
];

const skip = skipReason([MINGW_CXX, MINGW_OBJCOPY]);

describe.skipIf(skip !== undefined)("Win32 structure layouts the parsers rely on", () => {
  let probe: bigint[] = [];

  beforeAll(async () => {
    const dir = join(ROOT, ".tmp", "native-windows-test");
    await mkdir(dir, { recursive: true });
    const object = join(dir, "layout_probe.o");
    const section = join(dir, "layout_probe.bin");
    const source = join(ROOT, "native", "windows", "test", "layout_probe.cc");
    const compiled = run(MINGW_CXX, [
      "-std=c++17",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-D_WIN32_WINNT=0x0603",
      "-c",
      source,
      "-o",
      object,
    ]);
    if (compiled.status !== 0) throw new Error(compiled.stderr);
    const copied = run(MINGW_OBJCOPY, ["-O", "binary", "--only-section=.lbprobe", object, section]);
    if (copied.status !== 0) throw new Error(copied.stderr);
    const bytes = await readFile(section);
    probe = [];
    for (let at = 0; at + 8 <= bytes.length; at += 8) probe.push(bytes.readBigUInt64LE(at));
  }, 60_000);

  it("match MinGW-w64's headers field by field", () => {
    expect(probe[0]).toBe(0x4c42504c41594f54n);
    const actual = EXPECTED.map(([name], i) => [name, Number(probe[i + 1])] as const);
    expect(actual).toEqual(EXPECTED);
  });
});
