// COM for the VSS calls: every thread that touches IVssBackupComponents joins the multithreaded
// apartment once, and process-wide security is set before the first call so writers can call back.
#pragma once

#include <cstdint>

namespace lifeboat {

// Returns S_OK (0) or the failing HRESULT; cheap after the first call on a thread.
int32_t EnsureComForThread();

}  // namespace lifeboat
