// The real VSS table: forwards each requester call to IVssBackupComponents (Windows only).
#pragma once

#include <memory>

#include "vss_requester.h"

namespace lifeboat {

// A table bound to a fresh IVssBackupComponents. The calling threads must have COM initialised
// for the multithreaded apartment (see com_init.h).
std::unique_ptr<VssApi> MakeWin32VssApi();

}  // namespace lifeboat
