/**
 * Byte layouts and control codes of the Win32 structures the Windows agent exchanges with the
 * kernel, as documented by Microsoft (winioctl.h, ntddvol.h, ntdddisk.h). The parsers in this folder
 * read buffers through these numbers only; test/unit/windows/struct-layout.test.ts compares them
 * with MinGW-w64's headers, compiled (native/windows/test/layout_probe.cc).
 */

const METHOD_BUFFERED = 0;
const METHOD_NEITHER = 3;
const FILE_ANY_ACCESS = 0;
const FILE_READ_ACCESS = 1;
const FILE_DEVICE_DISK = 0x07;
const FILE_DEVICE_FILE_SYSTEM = 0x09;
const IOCTL_STORAGE_BASE = 0x2d;
const IOCTL_VOLUME_BASE = 0x56;

/** CTL_CODE from winioctl.h. */
export function ctlCode(deviceType: number, fn: number, method: number, access: number): number {
  return ((deviceType << 16) | (access << 14) | (fn << 2) | method) >>> 0;
}

export const IOCTL = {
  FSCTL_GET_VOLUME_BITMAP: ctlCode(FILE_DEVICE_FILE_SYSTEM, 27, METHOD_NEITHER, FILE_ANY_ACCESS),
  FSCTL_GET_RETRIEVAL_POINTERS: ctlCode(FILE_DEVICE_FILE_SYSTEM, 28, METHOD_NEITHER, FILE_ANY_ACCESS),
  FSCTL_GET_NTFS_VOLUME_DATA: ctlCode(FILE_DEVICE_FILE_SYSTEM, 25, METHOD_BUFFERED, FILE_ANY_ACCESS),
  FSCTL_IS_VOLUME_DIRTY: ctlCode(FILE_DEVICE_FILE_SYSTEM, 30, METHOD_BUFFERED, FILE_ANY_ACCESS),
  FSCTL_QUERY_USN_JOURNAL: ctlCode(FILE_DEVICE_FILE_SYSTEM, 61, METHOD_BUFFERED, FILE_ANY_ACCESS),
  FSCTL_READ_USN_JOURNAL: ctlCode(FILE_DEVICE_FILE_SYSTEM, 46, METHOD_NEITHER, FILE_ANY_ACCESS),
  FSCTL_ENUM_USN_DATA: ctlCode(FILE_DEVICE_FILE_SYSTEM, 44, METHOD_NEITHER, FILE_ANY_ACCESS),
  IOCTL_DISK_GET_DRIVE_LAYOUT_EX: ctlCode(FILE_DEVICE_DISK, 0x14, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_DISK_GET_DRIVE_GEOMETRY_EX: ctlCode(FILE_DEVICE_DISK, 0x28, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_DISK_GET_LENGTH_INFO: ctlCode(FILE_DEVICE_DISK, 0x17, METHOD_BUFFERED, FILE_READ_ACCESS),
  IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS: ctlCode(IOCTL_VOLUME_BASE, 0, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_VOLUME_LOGICAL_TO_PHYSICAL: ctlCode(IOCTL_VOLUME_BASE, 8, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_VOLUME_PHYSICAL_TO_LOGICAL: ctlCode(IOCTL_VOLUME_BASE, 9, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_STORAGE_QUERY_PROPERTY: ctlCode(IOCTL_STORAGE_BASE, 0x500, METHOD_BUFFERED, FILE_ANY_ACCESS),
  // Not in MinGW's headers; values from Microsoft's ntdddisk.h (Windows 7 / 2008 R2 and later).
  IOCTL_DISK_GET_DISK_ATTRIBUTES: ctlCode(FILE_DEVICE_DISK, 0x3c, METHOD_BUFFERED, FILE_ANY_ACCESS),
  IOCTL_DISK_IS_CLUSTERED: ctlCode(FILE_DEVICE_DISK, 0x3e, METHOD_BUFFERED, FILE_ANY_ACCESS),
} as const;

export const VOLUME_BITMAP = { startingLcn: 0, bitmapSize: 8, buffer: 16 } as const;

export const RETRIEVAL_POINTERS = { extentCount: 0, startingVcn: 8, extents: 16, extentSize: 16 } as const;

/** USN_RECORD_V2 (MinGW's USN_RECORD). */
export const USN_V2 = {
  recordLength: 0,
  majorVersion: 4,
  minorVersion: 6,
  fileReference: 8,
  parentReference: 16,
  usn: 24,
  timeStamp: 32,
  reason: 40,
  sourceInfo: 44,
  securityId: 48,
  fileAttributes: 52,
  fileNameLength: 56,
  fileNameOffset: 58,
  fileName: 60,
} as const;

/** USN_RECORD_V3: 128-bit file references (ReFS, and NTFS when asked for V3). Not in MinGW. */
export const USN_V3 = {
  fileReference: 8,
  parentReference: 24,
  usn: 40,
  timeStamp: 48,
  reason: 56,
  sourceInfo: 60,
  securityId: 64,
  fileAttributes: 68,
  fileNameLength: 72,
  fileNameOffset: 74,
  fileName: 76,
} as const;

/** USN_RECORD_V4: range tracking — which byte ranges of the file changed. Not in MinGW. */
export const USN_V4 = {
  fileReference: 8,
  parentReference: 24,
  usn: 40,
  reason: 48,
  sourceInfo: 52,
  remainingExtents: 56,
  numberOfExtents: 60,
  extentSize: 62,
  extents: 64,
  /** USN_RECORD_EXTENT: LONGLONG Offset, LONGLONG Length. */
  extentRecordSize: 16,
} as const;

/** USN_JOURNAL_DATA_V0 (56 bytes); V1 adds two WORDs (64 with padding), V2 adds range tracking (80). */
export const USN_JOURNAL_DATA = {
  journalId: 0,
  firstUsn: 8,
  nextUsn: 16,
  lowestValidUsn: 24,
  maxUsn: 32,
  maximumSize: 40,
  allocationDelta: 48,
  sizeV0: 56,
  minSupportedMajorVersion: 56,
  maxSupportedMajorVersion: 58,
  sizeV1: 64,
  flags: 60,
  rangeTrackChunkSize: 64,
  rangeTrackFileSizeThreshold: 72,
  sizeV2: 80,
} as const;

/** READ_USN_JOURNAL_DATA_V0 (40 bytes); V1 adds Min/MaxMajorVersion (48 with padding). */
export const READ_USN_JOURNAL = {
  startUsn: 0,
  reasonMask: 8,
  returnOnlyOnClose: 12,
  timeout: 16,
  bytesToWaitFor: 24,
  journalId: 32,
  sizeV0: 40,
  minMajorVersion: 40,
  maxMajorVersion: 42,
  sizeV1: 48,
} as const;

export const DRIVE_LAYOUT = {
  partitionStyle: 0,
  partitionCount: 4,
  union: 8,
  partitionEntry: 48,
  mbrSignature: 8,
  mbrCheckSum: 12,
  gptDiskId: 8,
  gptStartingUsableOffset: 24,
  gptUsableLength: 32,
  gptMaxPartitionCount: 40,
} as const;

export const PARTITION_ENTRY = {
  size: 144,
  partitionStyle: 0,
  startingOffset: 8,
  partitionLength: 16,
  partitionNumber: 24,
  rewritePartition: 28,
  isServicePartition: 29,
  union: 32,
  mbrType: 32,
  mbrBootIndicator: 33,
  mbrRecognized: 34,
  mbrHiddenSectors: 36,
  mbrPartitionId: 40,
  gptType: 32,
  gptId: 48,
  gptAttributes: 64,
  gptName: 72,
  gptNameBytes: 72,
} as const;

export const DISK_EXTENTS = {
  count: 0,
  extents: 8,
  extentSize: 24,
  diskNumber: 0,
  startingOffset: 8,
  extentLength: 16,
} as const;

export const DISK_GEOMETRY_EX = { bytesPerSector: 20, diskSize: 24, size: 32 } as const;

export const NTFS_VOLUME_DATA = {
  volumeSerialNumber: 0,
  numberSectors: 8,
  totalClusters: 16,
  freeClusters: 24,
  totalReserved: 32,
  bytesPerSector: 40,
  bytesPerCluster: 44,
  bytesPerFileRecordSegment: 48,
  clustersPerFileRecordSegment: 52,
  mftValidDataLength: 56,
  mftStartLcn: 64,
  mft2StartLcn: 72,
  mftZoneStart: 80,
  mftZoneEnd: 88,
  size: 96,
} as const;

/** MFT_ENUM_DATA_V1: enumerate every file record (FSCTL_ENUM_USN_DATA) from a file reference. */
export const MFT_ENUM_DATA = {
  startFileReference: 0,
  lowUsn: 8,
  highUsn: 16,
  minMajorVersion: 24,
  maxMajorVersion: 26,
  sizeV1: 32,
} as const;

/** Win32 errors the agent tells apart. */
export const WIN32_ERROR = {
  FILE_NOT_FOUND: 2,
  INVALID_FUNCTION: 1,
  HANDLE_EOF: 38,
  NOT_SUPPORTED: 50,
  MORE_DATA: 234,
  JOURNAL_DELETE_IN_PROGRESS: 1178,
  JOURNAL_NOT_ACTIVE: 1179,
  JOURNAL_ENTRY_DELETED: 1181,
  DEVICE_NOT_CONNECTED: 1167,
} as const;

/** USN_REASON_* bits the tracker acts on. */
export const USN_REASON = {
  DATA_OVERWRITE: 0x1,
  DATA_EXTEND: 0x2,
  DATA_TRUNCATION: 0x4,
  NAMED_DATA_OVERWRITE: 0x10,
  NAMED_DATA_EXTEND: 0x20,
  NAMED_DATA_TRUNCATION: 0x40,
  FILE_CREATE: 0x100,
  FILE_DELETE: 0x200,
  STREAM_CHANGE: 0x200000,
  CLOSE: 0x80000000,
} as const;
