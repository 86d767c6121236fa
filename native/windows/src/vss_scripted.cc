#include "vss_scripted.h"

namespace lifeboat {

namespace {

class ScriptedVssApi final : public VssApi {
 public:
  ScriptedVssApi(VssScript script, std::vector<std::string>* trace) : script_(std::move(script)), trace_(trace) {}

  HResult Create() override { return Call("CreateVssBackupComponents"); }
  HResult InitializeForBackup() override { return Call("InitializeForBackup"); }
  HResult SetContext(int32_t context) override {
    return Call("SetContext", context == kVssContextBackup ? "" : "unexpected context");
  }
  HResult SetBackupState(bool, bool, int32_t, bool) override { return Call("SetBackupState"); }
  HResult GatherWriterMetadata() override { return Call("GatherWriterMetadata"); }
  HResult FreeWriterMetadata() override { return Call("FreeWriterMetadata"); }
  HResult GatherWriterStatus(std::vector<WriterStatus>* out) override {
    const HResult hr = Call("GatherWriterStatus");
    if (Failed(hr)) return hr;
    out->clear();
    WriterStatus writer;
    writer.name = u"Scripted Writer";
    writer.writer_id.bytes[0] = 0x5c;
    writer.instance_id.bytes[0] = 0x1a;
    writer.state = snapshots_taken_ && script_.writer_state != 0 ? script_.writer_state : kWriterStable;
    writer.failure = WriterFailed(writer) ? static_cast<HResult>(0x800423F3u) : kOk;  // VSS_E_WRITERERROR_RETRYABLE
    out->push_back(writer);
    return kOk;
  }
  HResult StartSnapshotSet(Guid* set_id) override {
    const HResult hr = Call("StartSnapshotSet");
    if (!Failed(hr)) set_id->bytes[15] = 0x5e;
    return hr;
  }
  HResult AddToSnapshotSet(const std::u16string&, Guid* snapshot_id) override {
    const HResult hr = Call("AddToSnapshotSet");
    if (!Failed(hr)) snapshot_id->bytes[15] = static_cast<uint8_t>(++added_);
    return hr;
  }
  HResult PrepareForBackup() override { return Call("PrepareForBackup"); }
  HResult DoSnapshotSet() override {
    const HResult hr = Call("DoSnapshotSet");
    snapshots_taken_ = !Failed(hr);
    return hr;
  }
  HResult GetSnapshotDevice(const Guid& snapshot_id, std::u16string* device) override {
    const HResult hr = Call("GetSnapshotProperties");
    if (Failed(hr)) return hr;
    std::u16string number;
    for (unsigned n = snapshot_id.bytes[15]; n > 0 || number.empty(); n /= 10)
      number.insert(number.begin(), static_cast<char16_t>(u'0' + n % 10));
    *device = u"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy" + number;
    return kOk;
  }
  HResult BackupComplete() override { return Call("BackupComplete"); }
  HResult AbortBackup() override { return Call("AbortBackup"); }
  HResult DeleteSnapshotSet(const Guid&) override { return Call("DeleteSnapshots"); }
  void Release() override { Call("Release"); }

 private:
  HResult Call(const char* name, const char* anomaly = "") {
    std::string entry = name;
    if (*anomaly != '\0') entry += std::string(" (") + anomaly + ")";
    trace_->push_back(entry);
    return script_.fail_call == name ? script_.fail_hr : kOk;
  }

  VssScript script_;
  std::vector<std::string>* trace_;
  unsigned added_ = 0;
  bool snapshots_taken_ = false;
};

}  // namespace

std::unique_ptr<VssApi> MakeScriptedVssApi(const VssScript& script, std::vector<std::string>* trace) {
  return std::make_unique<ScriptedVssApi>(script, trace);
}

}  // namespace lifeboat
