#include "vss_requester.h"

#include <cstdio>

namespace lifeboat {

namespace {

// VSS_E_OBJECT_NOT_FOUND: deleting a set that never came into being is not a failure.
constexpr HResult kVssObjectNotFound = static_cast<HResult>(0x80042308u);

}  // namespace

std::string FormatGuid(const Guid& g) {
  const uint8_t* b = g.bytes;
  char text[40];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[3],
                b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return text;
}

SnapshotSession::SnapshotSession(std::unique_ptr<VssApi> api) : api_(std::move(api)) {}

SnapshotSession::~SnapshotSession() {
  // Best effort: a destructor cannot report, but it must not leave shadow copies holding diff area.
  Close(false);
}

Outcome SnapshotSession::Create(const std::vector<std::u16string>& volumes, const SnapshotOptions& options) {
  if (stage_ != Stage::kNone) return Outcome::Failure("Create", kVssBadState);
  if (volumes.empty()) return Outcome::Failure("AddToSnapshotSet", kVssBadState);

  HResult hr = api_->Create();
  if (Failed(hr)) return Fail("CreateVssBackupComponents", hr);
  stage_ = Stage::kCreated;

  if (Failed(hr = api_->InitializeForBackup())) return Fail("InitializeForBackup", hr);
  if (Failed(hr = api_->SetContext(kVssContextBackup))) return Fail("SetContext", hr);
  if (Failed(hr = api_->SetBackupState(false, false, options.backup_type, false)))
    return Fail("SetBackupState", hr);
  if (options.writers) {
    if (Failed(hr = api_->GatherWriterMetadata())) return Fail("GatherWriterMetadata", hr);
    // The metadata is not needed past this point: a block-level copy selects no components.
    if (Failed(hr = api_->FreeWriterMetadata())) return Fail("FreeWriterMetadata", hr);
  }

  if (Failed(hr = api_->StartSnapshotSet(&set_id_))) return Fail("StartSnapshotSet", hr);
  stage_ = Stage::kSetStarted;
  for (const auto& volume : volumes) {
    ShadowCopy copy;
    copy.volume = volume;
    if (Failed(hr = api_->AddToSnapshotSet(volume, &copy.snapshot_id))) return Fail("AddToSnapshotSet", hr);
    shadow_copies_.push_back(std::move(copy));
  }
  if (Failed(hr = api_->PrepareForBackup())) return Fail("PrepareForBackup", hr);
  if (options.writers) {
    if (Failed(hr = api_->GatherWriterStatus(&writers_))) return Fail("GatherWriterStatus", hr);
  }
  if (Failed(hr = api_->DoSnapshotSet())) return Fail("DoSnapshotSet", hr);
  stage_ = Stage::kSnapshotsTaken;
  if (options.writers) {
    // Writers that failed to freeze leave a crash-consistent copy of their data: the caller reports it.
    if (Failed(hr = api_->GatherWriterStatus(&writers_))) return Fail("GatherWriterStatus", hr);
  }
  for (auto& copy : shadow_copies_) {
    if (Failed(hr = api_->GetSnapshotDevice(copy.snapshot_id, &copy.device))) return Fail("GetSnapshotProperties", hr);
  }
  return Outcome::Success();
}

Outcome SnapshotSession::Close(bool succeeded) {
  if (stage_ == Stage::kClosed) return Outcome::Success();
  Outcome outcome;
  bool completed = false;
  if (stage_ == Stage::kSnapshotsTaken && succeeded) {
    const HResult hr = api_->BackupComplete();
    if (Failed(hr)) outcome = Outcome::Failure("BackupComplete", hr);
    completed = !Failed(hr);
  }
  Undo(&outcome, completed);
  return outcome;
}

Outcome SnapshotSession::Fail(const char* step, HResult hr) {
  Outcome outcome = Outcome::Failure(step, hr);
  Undo(&outcome, false);
  return outcome;
}

// Unwinds whatever stage was reached. Order matters: abort before delete (so writers thaw and
// forget the backup), delete before release (so nothing outlives the requester even if a provider
// keeps non-persistent copies past the release). `completed`: BackupComplete succeeded, so there is
// nothing to abort.
void SnapshotSession::Undo(Outcome* outcome, bool completed) {
  auto note = [outcome](const char* step, HResult hr) {
    if (Failed(hr)) {
      char text[64];
      std::snprintf(text, sizeof text, "%s: 0x%08x", step, static_cast<unsigned>(hr));
      outcome->cleanup_failures.emplace_back(text);
    }
  };
  if (stage_ == Stage::kSetStarted || stage_ == Stage::kSnapshotsTaken) {
    if (!completed) note("AbortBackup", api_->AbortBackup());
    const HResult hr = api_->DeleteSnapshotSet(set_id_);
    if (hr != kVssObjectNotFound) note("DeleteSnapshots", hr);
  }
  if (stage_ != Stage::kNone) api_->Release();
  stage_ = Stage::kClosed;
}

}  // namespace lifeboat
