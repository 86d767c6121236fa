#include "vss_win32.h"

#include <windows.h>
// clang-format off: vss.h must precede vswriter.h and vsbackup.h.
#include <vss.h>
#include <vswriter.h>
#include <vsbackup.h>
// clang-format on

#include <cstring>

namespace lifeboat {

namespace {

// An async VSS step that outlives this (a hung writer) is cancelled rather than waited on forever.
constexpr DWORD kAsyncTimeoutMs = 10 * 60 * 1000;

Guid ToGuid(const VSS_ID& id) {
  Guid g;
  static_assert(sizeof(VSS_ID) == sizeof(g.bytes), "GUID layout");
  std::memcpy(g.bytes, &id, sizeof g.bytes);
  return g;
}

VSS_ID FromGuid(const Guid& g) {
  VSS_ID id;
  std::memcpy(&id, g.bytes, sizeof g.bytes);
  return id;
}

std::u16string FromWide(const wchar_t* text) {
  if (text == nullptr) return std::u16string();
  return std::u16string(reinterpret_cast<const char16_t*>(text));
}

// Waits for an async operation and returns its own result, releasing it on every path.
HResult Await(HRESULT started, IVssAsync* async) {
  if (FAILED(started)) return started;
  HRESULT hr = async->Wait(kAsyncTimeoutMs);
  HRESULT status = S_OK;
  if (SUCCEEDED(hr)) hr = async->QueryStatus(&status, nullptr);
  if (SUCCEEDED(hr) && status == VSS_S_ASYNC_PENDING) {
    async->Cancel();
    status = HRESULT_FROM_WIN32(ERROR_TIMEOUT);
  }
  async->Release();
  if (FAILED(hr)) return hr;
  if (status == VSS_S_ASYNC_FINISHED) return S_OK;
  if (status == VSS_S_ASYNC_CANCELLED) return static_cast<HResult>(E_ABORT);
  return status;
}

class Win32VssApi final : public VssApi {
 public:
  ~Win32VssApi() override { Release(); }

  HResult Create() override { return CreateVssBackupComponents(&backup_); }
  HResult InitializeForBackup() override { return backup_->InitializeForBackup(nullptr); }
  HResult SetContext(int32_t context) override { return backup_->SetContext(context); }
  HResult SetBackupState(bool select_components, bool bootable_system_state, int32_t backup_type,
                         bool partial_file_support) override {
    return backup_->SetBackupState(select_components, bootable_system_state, static_cast<VSS_BACKUP_TYPE>(backup_type),
                                   partial_file_support);
  }
  HResult GatherWriterMetadata() override {
    IVssAsync* async = nullptr;
    const HRESULT hr = backup_->GatherWriterMetadata(&async);
    return Await(hr, async);
  }
  HResult FreeWriterMetadata() override { return backup_->FreeWriterMetadata(); }
  HResult GatherWriterStatus(std::vector<WriterStatus>* out) override {
    IVssAsync* async = nullptr;
    HRESULT hr = Await(backup_->GatherWriterStatus(&async), async);
    if (FAILED(hr)) return hr;
    UINT count = 0;
    hr = backup_->GetWriterStatusCount(&count);
    if (FAILED(hr)) return hr;
    out->clear();
    for (UINT i = 0; i < count; i++) {
      VSS_ID instance;
      VSS_ID writer;
      BSTR name = nullptr;
      VSS_WRITER_STATE state = VSS_WS_UNKNOWN;
      HRESULT failure = S_OK;
      hr = backup_->GetWriterStatus(i, &instance, &writer, &name, &state, &failure);
      if (FAILED(hr)) break;
      WriterStatus status;
      status.name = FromWide(name);
      status.writer_id = ToGuid(writer);
      status.instance_id = ToGuid(instance);
      status.state = static_cast<int32_t>(state);
      status.failure = failure;
      out->push_back(std::move(status));
      SysFreeString(name);
    }
    const HRESULT freed = backup_->FreeWriterStatus();
    return FAILED(hr) ? hr : freed;
  }
  HResult StartSnapshotSet(Guid* set_id) override {
    VSS_ID id;
    const HRESULT hr = backup_->StartSnapshotSet(&id);
    if (SUCCEEDED(hr)) *set_id = ToGuid(id);
    return hr;
  }
  HResult AddToSnapshotSet(const std::u16string& volume, Guid* snapshot_id) override {
    std::u16string name = volume;  // the API takes a non-const string
    VSS_ID id;
    const HRESULT hr = backup_->AddToSnapshotSet(reinterpret_cast<VSS_PWSZ>(&name[0]), GUID_NULL, &id);
    if (SUCCEEDED(hr)) *snapshot_id = ToGuid(id);
    return hr;
  }
  HResult PrepareForBackup() override {
    IVssAsync* async = nullptr;
    const HRESULT hr = backup_->PrepareForBackup(&async);
    return Await(hr, async);
  }
  HResult DoSnapshotSet() override {
    IVssAsync* async = nullptr;
    const HRESULT hr = backup_->DoSnapshotSet(&async);
    return Await(hr, async);
  }
  HResult GetSnapshotDevice(const Guid& snapshot_id, std::u16string* device) override {
    VSS_SNAPSHOT_PROP prop;
    std::memset(&prop, 0, sizeof prop);
    const HRESULT hr = backup_->GetSnapshotProperties(FromGuid(snapshot_id), &prop);
    if (FAILED(hr)) return hr;
    *device = FromWide(prop.m_pwszSnapshotDeviceObject);
    VssFreeSnapshotProperties(&prop);
    return S_OK;
  }
  HResult BackupComplete() override {
    IVssAsync* async = nullptr;
    const HRESULT hr = backup_->BackupComplete(&async);
    return Await(hr, async);
  }
  HResult AbortBackup() override { return backup_->AbortBackup(); }
  HResult DeleteSnapshotSet(const Guid& set_id) override {
    LONG deleted = 0;
    VSS_ID not_deleted;
    return backup_->DeleteSnapshots(FromGuid(set_id), VSS_OBJECT_SNAPSHOT_SET, TRUE, &deleted, &not_deleted);
  }
  void Release() override {
    if (backup_ != nullptr) backup_->Release();
    backup_ = nullptr;
  }

 private:
  IVssBackupComponents* backup_ = nullptr;
};

}  // namespace

std::unique_ptr<VssApi> MakeWin32VssApi() { return std::make_unique<Win32VssApi>(); }

}  // namespace lifeboat
