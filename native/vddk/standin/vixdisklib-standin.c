/*
 * A stand-in for VMware's libvixDiskLib with the same exported functions and types (pinned in
 * ../include/vixdisklib-abi.h), for tests on machines without VDDK. It serves the simulated
 * vSphere's datastore: `[ds] dir/name.vmdk` opens `<datastoreRoot>/ds/dir/name-flat.vmdk`.
 *
 * Its configuration comes through VixDiskLib_InitEx's config file, as real VDDK settings do:
 *   lifeboat.standin.datastoreRoot = /path      (required)
 *   lifeboat.standin.thumbprint = AA:BB:…       (ConnectEx refuses any other thumbprint)
 *   lifeboat.standin.user = NAME                (ConnectEx refuses other users)
 * Faults are injected at run time through `<datastoreRoot>/.standin-faults`, one per line:
 *   read <path substring> <reads to let through> <reads to fail>
 *   connect <vmxSpec substring> <connects to fail>
 *   slow <path substring> <milliseconds added to every read>
 * It is stricter than VDDK where strictness catches client bugs: read-only opens only, snapshot
 * connections only, and Disconnect refuses a connection that still has open disks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/vixdisklib-abi.h"

#define EXPORT __attribute__((visibility("default")))

/* VIX error codes the stand-in returns (numbered as in VMware's vix.h where known). */
enum {
  E_FAIL = 1,
  E_INVALID_ARG = 3,
  E_FILE_NOT_FOUND = 4,
  E_NOT_SUPPORTED = 6,
  E_FILE_ACCESS_ERROR = 13,
  E_HOST_CONNECTION_LOST = 3018,
  E_NOT_INITIALIZED = 16010,
  E_DISK_OUTOFRANGE = 16007,
  E_OBJECT_IS_BUSY = 5,
};

#define CONNECTION_MAGIC 0x4c42434eu /* "LBCN" */
#define HANDLE_MAGIC 0x4c424448u     /* "LBDH" */

typedef struct {
  uint32_t magic;
  char *vm;
  char *snapshot;
  const char *transport;
  int openHandles;
} Connection;

typedef struct {
  uint32_t magic;
  Connection *connection;
  int fd;
  char *path;
  VixDiskLibSectorType sectors;
} Handle;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static int liveConnections;
static int liveHandles;
static char datastoreRoot[4096];
static char expectedThumbprint[128];
static char expectedUser[256];
static VixDiskLibGenericLogFunc *logFunc;

static void say(const char *fmt, ...) {
  if (logFunc == NULL) return;
  va_list args;
  va_start(args, fmt);
  logFunc(fmt, args);
  va_end(args);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r')) *--end = '\0';
  return s;
}

static void readConfig(const char *file) {
  FILE *f = file == NULL ? NULL : fopen(file, "r");
  if (f == NULL) return;
  char line[4096];
  while (fgets(line, sizeof line, f) != NULL) {
    char *eq = strchr(line, '=');
    if (eq == NULL || line[0] == '#') continue;
    *eq = '\0';
    const char *key = trim(line);
    const char *value = trim(eq + 1);
    if (strcmp(key, "lifeboat.standin.datastoreRoot") == 0) snprintf(datastoreRoot, sizeof datastoreRoot, "%s", value);
    if (strcmp(key, "lifeboat.standin.thumbprint") == 0) snprintf(expectedThumbprint, sizeof expectedThumbprint, "%s", value);
    if (strcmp(key, "lifeboat.standin.user") == 0) snprintf(expectedUser, sizeof expectedUser, "%s", value);
  }
  fclose(f);
}

/* Consumes one matching fault of `kind` for `subject`; returns 1 when the operation must fail. */
static int takeFault(const char *kind, const char *subject) {
  char path[4200];
  snprintf(path, sizeof path, "%s/.standin-faults", datastoreRoot);
  pthread_mutex_lock(&lock);
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    pthread_mutex_unlock(&lock);
    return 0;
  }
  char lines[64][512];
  int n = 0, fail = 0, taken = 0;
  while (n < 64 && fgets(lines[n], sizeof lines[n], f) != NULL) n++;
  fclose(f);
  for (int i = 0; i < n && !taken; i++) {
    char k[32], sub[400];
    long skip = 0, count = 0;
    int fields = sscanf(lines[i], "%31s %399s %ld %ld", k, sub, &skip, &count);
    if (strcmp(kind, "connect") == 0 && fields == 3) count = skip, skip = 0;
    if (fields < 3 || strcmp(k, kind) != 0 || strstr(subject, sub) == NULL || count <= 0) continue;
    taken = 1;
    if (skip > 0) skip--;
    else count--, fail = 1;
    if (strcmp(kind, "connect") == 0) snprintf(lines[i], sizeof lines[i], "%s %s %ld\n", k, sub, count);
    else snprintf(lines[i], sizeof lines[i], "%s %s %ld %ld\n", k, sub, skip, count);
  }
  if (taken) {
    f = fopen(path, "w");
    if (f != NULL) {
      for (int i = 0; i < n; i++) fputs(lines[i], f);
      fclose(f);
    }
  }
  pthread_mutex_unlock(&lock);
  return fail;
}

/* Milliseconds a "slow" fault line adds to reads of `path` (a slow link), 0 if none. */
static long slowness(const char *path) {
  char file[4200];
  snprintf(file, sizeof file, "%s/.standin-faults", datastoreRoot);
  FILE *f = fopen(file, "r");
  if (f == NULL) return 0;
  char line[512], kind[32], sub[400];
  long ms = 0, value = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "%31s %399s %ld", kind, sub, &value) == 3 && strcmp(kind, "slow") == 0 && strstr(path, sub) != NULL) ms = value;
  }
  fclose(f);
  return ms;
}

EXPORT VixError VixDiskLib_InitEx(uint32_t major, uint32_t minor, VixDiskLibGenericLogFunc *log,
                                  VixDiskLibGenericLogFunc *warn, VixDiskLibGenericLogFunc *panic,
                                  const char *libDir, const char *configFile) {
  (void)warn, (void)panic, (void)libDir;
  if (major != LIFEBOAT_VDDK_MAJOR) return E_NOT_SUPPORTED;
  (void)minor;
  logFunc = log;
  readConfig(configFile);
  if (datastoreRoot[0] == '\0') return E_INVALID_ARG;
  pthread_mutex_lock(&lock);
  initialized++;
  pthread_mutex_unlock(&lock);
  say("stand-in VDDK %u.%u serving %s", major, minor, datastoreRoot);
  return VIX_OK;
}

EXPORT void VixDiskLib_Exit(void) {
  pthread_mutex_lock(&lock);
  if (initialized > 0) initialized--;
  pthread_mutex_unlock(&lock);
}

static const char *pickTransport(const char *modes) {
  /* The stand-in reaches the datastore "over the network": nbd and nbdssl; never hotadd or san. */
  const char *list = modes == NULL || *modes == '\0' ? "nbdssl:nbd" : modes;
  char copy[256];
  snprintf(copy, sizeof copy, "%s", list);
  for (char *save = NULL, *m = strtok_r(copy, ":", &save); m != NULL; m = strtok_r(NULL, ":", &save)) {
    if (strcmp(m, "nbdssl") == 0) return "nbdssl";
    if (strcmp(m, "nbd") == 0) return "nbd";
  }
  return NULL;
}

EXPORT VixError VixDiskLib_ConnectEx(const VixDiskLibConnectParams *p, Bool readOnly, const char *snapshotRef,
                                     const char *transportModes, VixDiskLibConnection *out) {
  if (!initialized) return E_NOT_INITIALIZED;
  if (p == NULL || out == NULL || p->vmxSpec == NULL || p->serverName == NULL || *p->serverName == '\0') return E_INVALID_ARG;
  if (strncmp(p->vmxSpec, "moref=", 6) != 0 || snapshotRef == NULL || *snapshotRef == '\0' || !readOnly) return E_INVALID_ARG;
  if (p->credType != VIXDISKLIB_CRED_UID || p->creds.uid.userName == NULL || p->creds.uid.password == NULL ||
      *p->creds.uid.password == '\0')
    return E_INVALID_ARG;
  if (expectedUser[0] != '\0' && strcmp(expectedUser, p->creds.uid.userName) != 0) return E_FAIL;
  if (expectedThumbprint[0] != '\0' && (p->thumbPrint == NULL || strcasecmp(p->thumbPrint, expectedThumbprint) != 0)) {
    say("stand-in: SSL thumbprint mismatch for %s", p->serverName);
    return E_FAIL;
  }
  if (takeFault("connect", p->vmxSpec)) return E_HOST_CONNECTION_LOST;
  const char *transport = pickTransport(transportModes);
  if (transport == NULL) return E_NOT_SUPPORTED;
  Connection *c = calloc(1, sizeof *c);
  if (c == NULL) return E_FAIL;
  c->magic = CONNECTION_MAGIC;
  c->vm = strdup(p->vmxSpec + 6);
  c->snapshot = strdup(snapshotRef);
  c->transport = transport;
  pthread_mutex_lock(&lock);
  liveConnections++;
  pthread_mutex_unlock(&lock);
  *out = c;
  return VIX_OK;
}

EXPORT VixError VixDiskLib_Disconnect(VixDiskLibConnection connection) {
  Connection *c = connection;
  if (c == NULL || c->magic != CONNECTION_MAGIC) return E_INVALID_ARG;
  if (c->openHandles > 0) return E_OBJECT_IS_BUSY;
  c->magic = 0;
  free(c->vm);
  free(c->snapshot);
  free(c);
  pthread_mutex_lock(&lock);
  liveConnections--;
  pthread_mutex_unlock(&lock);
  return VIX_OK;
}

EXPORT VixError VixDiskLib_Open(const VixDiskLibConnection connection, const char *path, uint32_t flags,
                                VixDiskLibHandle *out) {
  Connection *c = connection;
  if (c == NULL || c->magic != CONNECTION_MAGIC || path == NULL || out == NULL) return E_INVALID_ARG;
  if ((flags & VIXDISKLIB_FLAG_OPEN_READ_ONLY) == 0) return E_NOT_SUPPORTED;
  const char *bracket = strchr(path, ']');
  size_t len = strlen(path);
  if (path[0] != '[' || bracket == NULL || bracket[1] != ' ' || len < 6 || strcmp(path + len - 5, ".vmdk") != 0) return E_INVALID_ARG;
  char file[8192];
  snprintf(file, sizeof file, "%s/%.*s/%.*s-flat.vmdk", datastoreRoot, (int)(bracket - path - 1), path + 1,
           (int)(path + len - 5 - (bracket + 2)), bracket + 2);
  if (strstr(file, "/../") != NULL) return E_INVALID_ARG;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? E_FILE_NOT_FOUND : E_FILE_ACCESS_ERROR;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return E_FILE_ACCESS_ERROR;
  }
  Handle *h = calloc(1, sizeof *h);
  if (h == NULL) {
    close(fd);
    return E_FAIL;
  }
  h->magic = HANDLE_MAGIC;
  h->connection = c;
  h->fd = fd;
  h->path = strdup(path);
  h->sectors = (VixDiskLibSectorType)st.st_size / VIXDISKLIB_SECTOR_SIZE;
  c->openHandles++;
  pthread_mutex_lock(&lock);
  liveHandles++;
  pthread_mutex_unlock(&lock);
  *out = h;
  return VIX_OK;
}

EXPORT VixError VixDiskLib_Close(VixDiskLibHandle handle) {
  Handle *h = handle;
  if (h == NULL || h->magic != HANDLE_MAGIC) return E_INVALID_ARG;
  h->magic = 0;
  close(h->fd);
  h->connection->openHandles--;
  free(h->path);
  free(h);
  pthread_mutex_lock(&lock);
  liveHandles--;
  pthread_mutex_unlock(&lock);
  return VIX_OK;
}

EXPORT VixError VixDiskLib_GetInfo(VixDiskLibHandle handle, VixDiskLibInfo **info) {
  Handle *h = handle;
  if (h == NULL || h->magic != HANDLE_MAGIC || info == NULL) return E_INVALID_ARG;
  VixDiskLibInfo *i = calloc(1, sizeof *i);
  if (i == NULL) return E_FAIL;
  i->capacity = h->sectors;
  i->adapterType = VIXDISKLIB_ADAPTER_SCSI_LSILOGIC;
  i->numLinks = 1;
  *info = i;
  return VIX_OK;
}

EXPORT void VixDiskLib_FreeInfo(VixDiskLibInfo *info) { free(info); }

EXPORT const char *VixDiskLib_GetTransportMode(VixDiskLibHandle handle) {
  Handle *h = handle;
  return h == NULL || h->magic != HANDLE_MAGIC ? "" : h->connection->transport;
}

EXPORT VixError VixDiskLib_Read(VixDiskLibHandle handle, VixDiskLibSectorType start, VixDiskLibSectorType count,
                                uint8_t *buffer) {
  Handle *h = handle;
  if (h == NULL || h->magic != HANDLE_MAGIC || buffer == NULL) return E_INVALID_ARG;
  if (start > h->sectors || count > h->sectors - start) return E_DISK_OUTOFRANGE;
  if (takeFault("read", h->path)) return E_HOST_CONNECTION_LOST;
  long delay = slowness(h->path);
  if (delay > 0) usleep((useconds_t)delay * 1000);
  size_t want = (size_t)count * VIXDISKLIB_SECTOR_SIZE;
  off_t at = (off_t)start * VIXDISKLIB_SECTOR_SIZE;
  for (size_t done = 0; done < want;) {
    ssize_t n = pread(h->fd, buffer + done, want - done, at + (off_t)done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return E_FILE_ACCESS_ERROR;
    if (n == 0) {
      memset(buffer + done, 0, want - done); /* a thin disk's tail reads as zeros */
      break;
    }
    done += (size_t)n;
  }
  return VIX_OK;
}

EXPORT VixError VixDiskLib_QueryAllocatedBlocks(VixDiskLibHandle handle, VixDiskLibSectorType start,
                                                VixDiskLibSectorType count, VixDiskLibSectorType chunk,
                                                VixDiskLibBlockList **out) {
  Handle *h = handle;
  if (h == NULL || h->magic != HANDLE_MAGIC || out == NULL || chunk < VIXDISKLIB_MIN_CHUNK_SIZE) return E_INVALID_ARG;
  if (start % chunk != 0 || count % chunk != 0 || count / chunk > VIXDISKLIB_MAX_CHUNK_NUMBER) return E_INVALID_ARG;
  if (start > h->sectors || count > h->sectors - start) return E_DISK_OUTOFRANGE;
  size_t capacity = 16, n = 0;
  VixDiskLibBlockList *list = malloc(sizeof *list + capacity * sizeof(VixDiskLibBlock));
  if (list == NULL) return E_FAIL;
  off_t end = (off_t)(start + count) * VIXDISKLIB_SECTOR_SIZE;
  off_t chunkBytes = (off_t)chunk * VIXDISKLIB_SECTOR_SIZE;
  for (off_t at = (off_t)start * VIXDISKLIB_SECTOR_SIZE; at < end;) {
    off_t data = lseek(h->fd, at, SEEK_DATA);
    if (data < 0 || data >= end) break;
    off_t hole = lseek(h->fd, data, SEEK_HOLE);
    if (hole < 0 || hole > end) hole = end;
    off_t from = data / chunkBytes * chunkBytes, to = (hole + chunkBytes - 1) / chunkBytes * chunkBytes;
    if (to > end) to = end;
    if (n > 0 && list->blocks[n - 1].offset + list->blocks[n - 1].length >= (VixDiskLibSectorType)(from / 512)) {
      list->blocks[n - 1].length = (VixDiskLibSectorType)(to / 512) - list->blocks[n - 1].offset;
    } else {
      if (n == capacity) {
        capacity *= 2;
        VixDiskLibBlockList *grown = realloc(list, sizeof *list + capacity * sizeof(VixDiskLibBlock));
        if (grown == NULL) return free(list), E_FAIL;
        list = grown;
      }
      list->blocks[n].offset = (VixDiskLibSectorType)(from / 512);
      list->blocks[n].length = (VixDiskLibSectorType)((to - from) / 512);
      n++;
    }
    at = to;
  }
  list->numBlocks = (uint32_t)n;
  *out = list;
  return VIX_OK;
}

EXPORT VixError VixDiskLib_FreeBlockList(VixDiskLibBlockList *list) {
  free(list);
  return VIX_OK;
}

EXPORT char *VixDiskLib_GetErrorText(VixError err, const char *locale) {
  (void)locale;
  const char *text;
  switch (err) {
    case VIX_OK: text = "The operation was successful"; break;
    case E_INVALID_ARG: text = "One of the parameters was invalid"; break;
    case E_FILE_NOT_FOUND: text = "The file was not found"; break;
    case E_NOT_SUPPORTED: text = "The operation is not supported"; break;
    case E_OBJECT_IS_BUSY: text = "The object is busy"; break;
    case E_FILE_ACCESS_ERROR: text = "Cannot access the file"; break;
    case E_HOST_CONNECTION_LOST: text = "The connection to the host was lost"; break;
    case E_DISK_OUTOFRANGE: text = "The sector is out of the disk's range"; break;
    case E_NOT_INITIALIZED: text = "The library is not initialized"; break;
    default: text = "Unknown error"; break;
  }
  char *out = malloc(strlen(text) + 40);
  if (out != NULL) sprintf(out, "%s (stand-in VIX error %llu)", text, (unsigned long long)err);
  return out;
}

EXPORT void VixDiskLib_FreeErrorText(char *text) { free(text); }

/* Not part of VDDK: lets tests prove that every connection and handle was released. */
EXPORT void LifeboatStandin_Counters(int *initializations, int *connections, int *handles) {
  pthread_mutex_lock(&lock);
  *initializations = initialized;
  *connections = liveConnections;
  *handles = liveHandles;
  pthread_mutex_unlock(&lock);
}
