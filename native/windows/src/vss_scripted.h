// A VSS table that follows a script instead of calling Windows: every call is recorded, and the
// call named in the script fails with the scripted HRESULT. It drives the requester sequence in
// the Linux test (native/windows/test/requester_test.cc) and, through `new VssSession({ script })`,
// inside the addon itself wherever VSS is a stub (wine).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vss_requester.h"

namespace lifeboat {

struct VssScript {
  // The call that fails ("DoSnapshotSet", "AddToSnapshotSet", …); empty for none.
  std::string fail_call;
  HResult fail_hr = kOk;
  // A writer state to report after DoSnapshotSet (e.g. 9 = VSS_WS_FAILED_AT_FREEZE); 0 for stable.
  int32_t writer_state = 0;
};

// `trace` receives one entry per call, in order; it must outlive the table.
std::unique_ptr<VssApi> MakeScriptedVssApi(const VssScript& script, std::vector<std::string>* trace);

}  // namespace lifeboat
