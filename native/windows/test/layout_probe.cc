// Compiled (never run) with MinGW by test/unit/windows/struct-layout.test.ts: the object's
// `.lbprobe` section holds the sizes, field offsets and control codes of the Win32 structures the
// TypeScript parsers in src/formats/windows decode, as MinGW's own headers define them. The test
// reads the section back and compares it with the parsers' constants, so a layout written from the
// documentation is checked against an independent definition of the same ABI.
#include <windows.h>
#include <winioctl.h>

#include <cstddef>
#include <cstdint>

#define PROBE(value) static_cast<uint64_t>(value)

extern "C" __attribute__((section(".lbprobe"), used)) const uint64_t lifeboat_layout_probe[] = {
    PROBE(0x4C42504C41594F54ull),  // magic "LBPLAYOT"
    // VOLUME_BITMAP_BUFFER
    PROBE(offsetof(VOLUME_BITMAP_BUFFER, StartingLcn)),
    PROBE(offsetof(VOLUME_BITMAP_BUFFER, BitmapSize)),
    PROBE(offsetof(VOLUME_BITMAP_BUFFER, Buffer)),
    // RETRIEVAL_POINTERS_BUFFER
    PROBE(offsetof(RETRIEVAL_POINTERS_BUFFER, ExtentCount)),
    PROBE(offsetof(RETRIEVAL_POINTERS_BUFFER, StartingVcn)),
    PROBE(offsetof(RETRIEVAL_POINTERS_BUFFER, Extents)),
    PROBE(sizeof(RETRIEVAL_POINTERS_BUFFER::Extents[0])),
    // USN_RECORD (V2)
    PROBE(offsetof(USN_RECORD, RecordLength)),
    PROBE(offsetof(USN_RECORD, MajorVersion)),
    PROBE(offsetof(USN_RECORD, FileReferenceNumber)),
    PROBE(offsetof(USN_RECORD, ParentFileReferenceNumber)),
    PROBE(offsetof(USN_RECORD, Usn)),
    PROBE(offsetof(USN_RECORD, TimeStamp)),
    PROBE(offsetof(USN_RECORD, Reason)),
    PROBE(offsetof(USN_RECORD, SourceInfo)),
    PROBE(offsetof(USN_RECORD, SecurityId)),
    PROBE(offsetof(USN_RECORD, FileAttributes)),
    PROBE(offsetof(USN_RECORD, FileNameLength)),
    PROBE(offsetof(USN_RECORD, FileNameOffset)),
    PROBE(offsetof(USN_RECORD, FileName)),
    // USN_JOURNAL_DATA (V0) and READ_USN_JOURNAL_DATA (V0)
    PROBE(sizeof(USN_JOURNAL_DATA)),
    PROBE(offsetof(USN_JOURNAL_DATA, FirstUsn)),
    PROBE(offsetof(USN_JOURNAL_DATA, NextUsn)),
    PROBE(offsetof(USN_JOURNAL_DATA, LowestValidUsn)),
    PROBE(offsetof(USN_JOURNAL_DATA, MaxUsn)),
    PROBE(sizeof(READ_USN_JOURNAL_DATA)),
    PROBE(offsetof(READ_USN_JOURNAL_DATA, UsnJournalID)),
    // DRIVE_LAYOUT_INFORMATION_EX and its parts
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_EX, PartitionStyle)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_EX, PartitionCount)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_EX, Mbr)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_EX, PartitionEntry)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_MBR, Signature)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_GPT, DiskId)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_GPT, StartingUsableOffset)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_GPT, UsableLength)),
    PROBE(offsetof(DRIVE_LAYOUT_INFORMATION_GPT, MaxPartitionCount)),
    PROBE(sizeof(PARTITION_INFORMATION_EX)),
    PROBE(offsetof(PARTITION_INFORMATION_EX, StartingOffset)),
    PROBE(offsetof(PARTITION_INFORMATION_EX, PartitionLength)),
    PROBE(offsetof(PARTITION_INFORMATION_EX, PartitionNumber)),
    PROBE(offsetof(PARTITION_INFORMATION_EX, RewritePartition)),
    PROBE(offsetof(PARTITION_INFORMATION_EX, Mbr)),
    PROBE(offsetof(PARTITION_INFORMATION_MBR, PartitionType)),
    PROBE(offsetof(PARTITION_INFORMATION_MBR, BootIndicator)),
    PROBE(offsetof(PARTITION_INFORMATION_MBR, RecognizedPartition)),
    PROBE(offsetof(PARTITION_INFORMATION_MBR, HiddenSectors)),
    PROBE(offsetof(PARTITION_INFORMATION_GPT, PartitionType)),
    PROBE(offsetof(PARTITION_INFORMATION_GPT, PartitionId)),
    PROBE(offsetof(PARTITION_INFORMATION_GPT, Attributes)),
    PROBE(offsetof(PARTITION_INFORMATION_GPT, Name)),
    PROBE(sizeof(PARTITION_INFORMATION_GPT::Name)),
    // VOLUME_DISK_EXTENTS, DISK_GEOMETRY_EX, NTFS_VOLUME_DATA_BUFFER
    PROBE(offsetof(VOLUME_DISK_EXTENTS, Extents)),
    PROBE(sizeof(DISK_EXTENT)),
    PROBE(offsetof(DISK_EXTENT, StartingOffset)),
    PROBE(offsetof(DISK_EXTENT, ExtentLength)),
    PROBE(offsetof(DISK_GEOMETRY_EX, DiskSize)),
    PROBE(offsetof(DISK_GEOMETRY, BytesPerSector)),
    PROBE(sizeof(NTFS_VOLUME_DATA_BUFFER)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, TotalClusters)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, BytesPerCluster)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, BytesPerFileRecordSegment)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, MftValidDataLength)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, MftStartLcn)),
    PROBE(offsetof(NTFS_VOLUME_DATA_BUFFER, Mft2StartLcn)),
    // Control codes
    PROBE(FSCTL_GET_VOLUME_BITMAP),
    PROBE(FSCTL_GET_RETRIEVAL_POINTERS),
    PROBE(FSCTL_GET_NTFS_VOLUME_DATA),
    PROBE(FSCTL_IS_VOLUME_DIRTY),
    PROBE(FSCTL_QUERY_USN_JOURNAL),
    PROBE(FSCTL_READ_USN_JOURNAL),
    PROBE(IOCTL_DISK_GET_DRIVE_LAYOUT_EX),
    PROBE(IOCTL_DISK_GET_DRIVE_GEOMETRY_EX),
    PROBE(IOCTL_DISK_GET_LENGTH_INFO),
    PROBE(IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS),
    PROBE(IOCTL_VOLUME_LOGICAL_TO_PHYSICAL),
    PROBE(IOCTL_STORAGE_QUERY_PROPERTY),
    PROBE(IOCTL_VOLUME_PHYSICAL_TO_LOGICAL),
    PROBE(FSCTL_ENUM_USN_DATA),
    PROBE(sizeof(MFT_ENUM_DATA)),
    PROBE(offsetof(MFT_ENUM_DATA, HighUsn)),
    // USN reasons the tracker acts on
    PROBE(USN_REASON_DATA_OVERWRITE),
    PROBE(USN_REASON_DATA_EXTEND),
    PROBE(USN_REASON_DATA_TRUNCATION),
    PROBE(USN_REASON_NAMED_DATA_OVERWRITE),
    PROBE(USN_REASON_NAMED_DATA_EXTEND),
    PROBE(USN_REASON_NAMED_DATA_TRUNCATION),
    PROBE(USN_REASON_FILE_CREATE),
    PROBE(USN_REASON_FILE_DELETE),
    PROBE(USN_REASON_STREAM_CHANGE),
    PROBE(USN_REASON_CLOSE),
};
