// Drives the VSS requester sequence (src/vss_requester.cc) against the scripted table on the build
// machine, one scenario per line of JSON on stdout. test/unit/windows/vss-requester.test.ts builds
// this with the host compiler and checks the call order and the clean-up on every exit path.
#include <cstdio>
#include <string>
#include <vector>

#include "../src/vss_requester.h"
#include "../src/vss_scripted.h"

namespace {

using lifeboat::HResult;
using lifeboat::Outcome;
using lifeboat::SnapshotOptions;
using lifeboat::SnapshotSession;
using lifeboat::VssScript;

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Ascii(const std::u16string& text) {
  std::string out;
  for (char16_t c : text) out += c < 0x80 ? static_cast<char>(c) : '?';
  return out;
}

std::string OutcomeJson(const Outcome& o) {
  std::string json = "{\"ok\":" + std::string(o.ok ? "true" : "false");
  if (!o.ok) {
    char hr[16];
    std::snprintf(hr, sizeof hr, "%u", static_cast<unsigned>(o.hr));
    json += ",\"step\":" + Quote(o.step) + ",\"hresult\":" + hr;
  }
  json += ",\"cleanupFailures\":[";
  for (size_t i = 0; i < o.cleanup_failures.size(); i++) json += (i ? "," : "") + Quote(o.cleanup_failures[i]);
  return json + "]}";
}

enum class Ending { kComplete, kAbort, kDrop };

void Run(const std::string& name, const VssScript& script, Ending ending, bool writers = true) {
  std::vector<std::string> trace;
  std::string json = "{\"scenario\":" + Quote(name);
  {
    SnapshotSession session(lifeboat::MakeScriptedVssApi(script, &trace));
    SnapshotOptions options;
    options.writers = writers;
    const Outcome created = session.Create({u"\\\\?\\Volume{c}\\", u"\\\\?\\Volume{d}\\"}, options);
    json += ",\"create\":" + OutcomeJson(created);
    json += ",\"devices\":[";
    for (size_t i = 0; created.ok && i < session.shadow_copies().size(); i++)
      json += (i ? "," : "") + Quote(Ascii(session.shadow_copies()[i].device));
    json += "],\"failedWriters\":";
    int failed = 0;
    for (const auto& w : session.writers()) failed += lifeboat::WriterFailed(w) ? 1 : 0;
    json += std::to_string(failed);
    json += ",\"openAfterCreate\":" + std::string(session.open() ? "true" : "false");
    if (created.ok && ending != Ending::kDrop) {
      json += ",\"close\":" + OutcomeJson(session.Close(ending == Ending::kComplete));
      json += ",\"secondClose\":" + OutcomeJson(session.Close(true));
    }
    trace.push_back("-- session destroyed");
  }
  json += ",\"trace\":[";
  for (size_t i = 0; i < trace.size(); i++) json += (i ? "," : "") + Quote(trace[i]);
  std::printf("%s]}\n", json.c_str());
}

}  // namespace

int main() {
  // VSS_E_SNAPSHOT_SET_IN_PROGRESS: another requester (a conflicting backup product) is snapshotting.
  const HResult in_progress = static_cast<HResult>(0x80042316u);
  const char* calls[] = {"CreateVssBackupComponents", "InitializeForBackup", "SetContext",
                         "SetBackupState",            "GatherWriterMetadata", "FreeWriterMetadata",
                         "StartSnapshotSet",          "AddToSnapshotSet",     "PrepareForBackup",
                         "GatherWriterStatus",        "DoSnapshotSet",        "GetSnapshotProperties"};
  for (const char* call : calls) Run(std::string("fail-") + call, VssScript{call, in_progress, 0}, Ending::kComplete);
  Run("complete", VssScript{}, Ending::kComplete);
  Run("abort", VssScript{}, Ending::kAbort);
  Run("dropped", VssScript{}, Ending::kDrop);
  Run("backup-complete-fails", VssScript{"BackupComplete", static_cast<HResult>(0x80042318u), 0}, Ending::kComplete);
  Run("delete-fails", VssScript{"DeleteSnapshots", static_cast<HResult>(0x8004230Fu), 0}, Ending::kComplete);
  Run("writer-failed-at-freeze", VssScript{"", 0, 9}, Ending::kComplete);
  Run("no-writers", VssScript{}, Ending::kComplete, false);
  return 0;
}
