/*
 * The part of VMware's VDDK C API (libvixDiskLib) that Lifeboat uses, written for Lifeboat from the
 * VDDK Programming Guide and API reference. Pinned to the VDDK 7.0 ABI, whose connect-parameter
 * layout has been stable since VDDK 6.7 and is still the one VDDK 8.0 ships. Both the native addon
 * (which dlopens the real library at run time) and the stand-in library used by the tests compile
 * against this header, and the static asserts at the end pin the x86-64 (LP64) layout, so neither
 * side can drift from the other or from the pinned ABI without failing to build.
 */
#ifndef LIFEBOAT_VIXDISKLIB_ABI_H
#define LIFEBOAT_VIXDISKLIB_ABI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIFEBOAT_VDDK_MAJOR 7
#define LIFEBOAT_VDDK_MINOR 0

typedef uint64_t VixError;
typedef uint64_t VixDiskLibSectorType;
typedef char Bool;

#define VIX_OK 0
#define VIXDISKLIB_SECTOR_SIZE 512
#define VIXDISKLIB_FLAG_OPEN_UNBUFFERED 1
#define VIXDISKLIB_FLAG_OPEN_SINGLE_LINK 2
#define VIXDISKLIB_FLAG_OPEN_READ_ONLY 4
/* QueryAllocatedBlocks: the chunk size is at least 64 KiB (128 sectors), at most this many chunks per call. */
#define VIXDISKLIB_MIN_CHUNK_SIZE 128
#define VIXDISKLIB_MAX_CHUNK_NUMBER (512 * 1024)

/* Opaque handles. */
typedef void *VixDiskLibConnection;
typedef void *VixDiskLibHandle;

typedef void VixDiskLibGenericLogFunc(const char *fmt, va_list args);

typedef enum {
  VIXDISKLIB_CRED_UID = 1,
  VIXDISKLIB_CRED_SESSIONID = 2,
  VIXDISKLIB_CRED_TICKETID = 3,
  VIXDISKLIB_CRED_SSPI = 4,
  VIXDISKLIB_CRED_UNKNOWN = 256
} VixDiskLibCredType;

typedef enum {
  VIXDISKLIB_SPEC_VMX = 0,
  VIXDISKLIB_SPEC_VSTORAGE_OBJECT = 1,
  VIXDISKLIB_SPEC_UNKNOWN = 2
} VixDiskLibSpecType;

typedef struct {
  char *id;
  char *datastoreMoRef;
  char *ssId;
} VixDiskLibVStorageObjectSpec;

typedef struct VixDiskLibConnectParams {
  char *vmxSpec;    /* "moref=vm-42" */
  char *serverName; /* vCenter or ESXi host */
  char *thumbPrint; /* SHA-1 of the server certificate, "AA:BB:…" */
  long privateUse;
  VixDiskLibCredType credType;
  union {
    struct {
      char *userName;
      char *password;
    } uid;
    struct {
      char *cookie;
      char *userName;
      char *key;
    } sessionId;
    void *ticketId;
  } creds;
  uint32_t port;
  uint32_t nfcHostPort;
  char *vimApiVer;
  char reserved[8];
  void *privateData;
  union {
    VixDiskLibVStorageObjectSpec vStorageObjSpec;
  } spec;
  VixDiskLibSpecType specType;
} VixDiskLibConnectParams;

typedef struct {
  uint32_t cylinders;
  uint32_t heads;
  uint32_t sectors;
} VixDiskLibGeometry;

typedef enum {
  VIXDISKLIB_ADAPTER_IDE = 1,
  VIXDISKLIB_ADAPTER_SCSI_BUSLOGIC = 2,
  VIXDISKLIB_ADAPTER_SCSI_LSILOGIC = 3,
  VIXDISKLIB_ADAPTER_UNKNOWN = 256
} VixDiskLibAdapterType;

typedef struct {
  VixDiskLibGeometry biosGeo;
  VixDiskLibGeometry physGeo;
  VixDiskLibSectorType capacity; /* in sectors */
  VixDiskLibAdapterType adapterType;
  int numLinks;
  char *parentFileNameHint;
  char *uuid;
} VixDiskLibInfo;

typedef struct {
  VixDiskLibSectorType offset; /* in sectors */
  VixDiskLibSectorType length;
} VixDiskLibBlock;

typedef struct {
  uint32_t numBlocks;
  VixDiskLibBlock blocks[1];
} VixDiskLibBlockList;

/* The entry points, as function-pointer types (the addon resolves them with dlsym). */
typedef VixError (*VixDiskLib_InitEx_fn)(uint32_t majorVersion, uint32_t minorVersion, VixDiskLibGenericLogFunc *log,
                                         VixDiskLibGenericLogFunc *warn, VixDiskLibGenericLogFunc *panic,
                                         const char *libDir, const char *configFile);
typedef void (*VixDiskLib_Exit_fn)(void);
typedef VixError (*VixDiskLib_ConnectEx_fn)(const VixDiskLibConnectParams *connectParams, Bool readOnly,
                                            const char *snapshotRef, const char *transportModes,
                                            VixDiskLibConnection *connection);
typedef VixError (*VixDiskLib_Disconnect_fn)(VixDiskLibConnection connection);
typedef VixError (*VixDiskLib_Open_fn)(const VixDiskLibConnection connection, const char *path, uint32_t flags,
                                       VixDiskLibHandle *diskHandle);
typedef VixError (*VixDiskLib_Close_fn)(VixDiskLibHandle diskHandle);
typedef VixError (*VixDiskLib_GetInfo_fn)(VixDiskLibHandle diskHandle, VixDiskLibInfo **info);
typedef void (*VixDiskLib_FreeInfo_fn)(VixDiskLibInfo *info);
typedef VixError (*VixDiskLib_Read_fn)(VixDiskLibHandle diskHandle, VixDiskLibSectorType startSector,
                                       VixDiskLibSectorType numSectors, uint8_t *readBuffer);
typedef const char *(*VixDiskLib_GetTransportMode_fn)(VixDiskLibHandle diskHandle);
typedef char *(*VixDiskLib_GetErrorText_fn)(VixError err, const char *locale);
typedef void (*VixDiskLib_FreeErrorText_fn)(char *errMsg);
typedef VixError (*VixDiskLib_QueryAllocatedBlocks_fn)(VixDiskLibHandle diskHandle, VixDiskLibSectorType startSector,
                                                       VixDiskLibSectorType numSectors,
                                                       VixDiskLibSectorType chunkSize,
                                                       VixDiskLibBlockList **blockList);
typedef VixError (*VixDiskLib_FreeBlockList_fn)(VixDiskLibBlockList *blockList);

#ifdef __cplusplus
}
#define LIFEBOAT_STATIC_ASSERT static_assert
#else
#define LIFEBOAT_STATIC_ASSERT _Static_assert
#endif

#if defined(__x86_64__) || defined(__aarch64__)
LIFEBOAT_STATIC_ASSERT(sizeof(VixError) == 8, "VixError is 64-bit");
LIFEBOAT_STATIC_ASSERT(sizeof(VixDiskLibConnectParams) == 128, "VixDiskLibConnectParams layout (VDDK 7.0)");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, credType) == 32, "credType offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, creds) == 40, "creds offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, port) == 64, "port offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, vimApiVer) == 72, "vimApiVer offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, spec) == 96, "spec offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibConnectParams, specType) == 120, "specType offset");
LIFEBOAT_STATIC_ASSERT(sizeof(VixDiskLibInfo) == 56, "VixDiskLibInfo layout");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibInfo, capacity) == 24, "capacity offset");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibInfo, uuid) == 48, "uuid offset");
LIFEBOAT_STATIC_ASSERT(sizeof(VixDiskLibBlock) == 16, "VixDiskLibBlock layout");
LIFEBOAT_STATIC_ASSERT(offsetof(VixDiskLibBlockList, blocks) == 8, "VixDiskLibBlockList layout");
#endif

#endif /* LIFEBOAT_VIXDISKLIB_ABI_H */
