// The VSS requester sequence, written against a table of the VSS calls it makes rather than
// against IVssBackupComponents directly. The real table (vss_win32.cc) forwards to Windows; a fake
// table drives the same sequence in tests on any platform, abort paths included. This header is
// deliberately free of <windows.h> so the sequence compiles and runs on Linux as well.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lifeboat {

using HResult = int32_t;

inline bool Failed(HResult hr) { return hr < 0; }

constexpr HResult kOk = 0;
// VSS_E_BAD_STATE: the sequence was driven out of order (a bug in the requester, not the host).
constexpr HResult kVssBadState = static_cast<HResult>(0x80042301u);

// VSS_CTX_BACKUP: non-persistent, writers involved; the shadow copies die with the requester.
constexpr int32_t kVssContextBackup = 0;
// VSS_BT_COPY: writers do not treat this as a backup of record, so logs are not truncated and
// another backup product's chain is not disturbed.
constexpr int32_t kVssBackupTypeCopy = 5;
constexpr int32_t kVssBackupTypeFull = 1;

// A GUID in its Windows memory layout (Data1..Data3 little-endian, Data4 as bytes).
struct Guid {
  uint8_t bytes[16] = {};
};

std::string FormatGuid(const Guid& guid);

// One writer's state after a VSS step (VSS_WRITER_STATE and its failure HRESULT).
struct WriterStatus {
  std::u16string name;
  Guid writer_id;
  Guid instance_id;
  int32_t state = 0;
  HResult failure = kOk;
};

constexpr int32_t kWriterStable = 1;
// VSS_WS_FAILED_AT_IDENTIFY (6) … VSS_WS_FAILED_AT_BACKUPSHUTDOWN (15) are failures.
inline bool WriterFailed(const WriterStatus& w) { return w.state >= 6 && w.state <= 15; }

struct ShadowCopy {
  std::u16string volume;  // as passed to AddToSnapshotSet, e.g. \\?\Volume{…}\ .
  Guid snapshot_id;
  std::u16string device;  // \\?\GLOBALROOT\Device\HarddiskVolumeShadowCopyN
};

// The calls the requester makes, in the order the VSS documentation prescribes. Each returns the
// HRESULT of the call, or of the asynchronous operation it started once that has completed.
class VssApi {
 public:
  virtual ~VssApi() = default;
  virtual HResult Create() = 0;  // CreateVssBackupComponents
  virtual HResult InitializeForBackup() = 0;
  virtual HResult SetContext(int32_t context) = 0;
  virtual HResult SetBackupState(bool select_components, bool bootable_system_state, int32_t backup_type,
                                 bool partial_file_support) = 0;
  virtual HResult GatherWriterMetadata() = 0;
  virtual HResult FreeWriterMetadata() = 0;
  virtual HResult GatherWriterStatus(std::vector<WriterStatus>* out) = 0;
  virtual HResult StartSnapshotSet(Guid* set_id) = 0;
  virtual HResult AddToSnapshotSet(const std::u16string& volume, Guid* snapshot_id) = 0;
  virtual HResult PrepareForBackup() = 0;
  virtual HResult DoSnapshotSet() = 0;
  virtual HResult GetSnapshotDevice(const Guid& snapshot_id, std::u16string* device) = 0;
  virtual HResult BackupComplete() = 0;
  virtual HResult AbortBackup() = 0;
  virtual HResult DeleteSnapshotSet(const Guid& set_id) = 0;
  // Releases the backup components; for VSS_CTX_BACKUP this also discards the shadow copies.
  virtual void Release() = 0;
};

// Where a sequence stopped and why; `ok` when it ran to the end.
struct Outcome {
  bool ok = true;
  std::string step;
  HResult hr = kOk;
  // Clean-up calls that themselves failed while undoing a failed step (for the log).
  std::vector<std::string> cleanup_failures;

  static Outcome Success() { return Outcome{}; }
  static Outcome Failure(std::string step, HResult hr) {
    Outcome o;
    o.ok = false;
    o.step = std::move(step);
    o.hr = hr;
    return o;
  }
};

struct SnapshotOptions {
  int32_t backup_type = kVssBackupTypeCopy;
  // Involve writers (application-consistent); false gives a crash-consistent set without writers.
  bool writers = true;
};

// One snapshot set over some volumes. Whatever happens — a failed step, an exception in the
// caller, the object simply going away — every shadow copy it created is deleted: `Create` undoes
// its own partial work, `Close` completes or aborts the backup, and the destructor closes.
class SnapshotSession {
 public:
  explicit SnapshotSession(std::unique_ptr<VssApi> api);
  ~SnapshotSession();
  SnapshotSession(const SnapshotSession&) = delete;
  SnapshotSession& operator=(const SnapshotSession&) = delete;

  Outcome Create(const std::vector<std::u16string>& volumes, const SnapshotOptions& options);
  // `succeeded`: the caller read what it needed, so tell writers the backup completed (BackupComplete);
  // otherwise abort. The shadow copies are deleted either way. Safe to call more than once.
  Outcome Close(bool succeeded);

  const Guid& set_id() const { return set_id_; }
  const std::vector<ShadowCopy>& shadow_copies() const { return shadow_copies_; }
  // Writer states after DoSnapshotSet (or the last status gathered before a failure).
  const std::vector<WriterStatus>& writers() const { return writers_; }
  bool open() const { return stage_ == Stage::kSnapshotsTaken; }

 private:
  enum class Stage { kNone, kCreated, kSetStarted, kSnapshotsTaken, kClosed };

  Outcome Fail(const char* step, HResult hr);
  void Undo(Outcome* outcome, bool completed);

  std::unique_ptr<VssApi> api_;
  Stage stage_ = Stage::kNone;
  Guid set_id_;
  std::vector<ShadowCopy> shadow_copies_;
  std::vector<WriterStatus> writers_;
};

}  // namespace lifeboat
