#include "com_init.h"

#include <objbase.h>
#include <windows.h>

#include <mutex>

namespace lifeboat {

int32_t EnsureComForThread() {
  // Worker threads are pool threads that live as long as the process, so COM is never
  // uninitialised on them: doing so could tear down the apartment under a live requester.
  thread_local bool joined = false;
  if (!joined) {
    const HRESULT hr = CoInitializeEx(nullptr, COINIT_MULTITHREADED);
    if (FAILED(hr)) return hr;
    joined = true;
  }
  static std::once_flag security_once;
  static HRESULT security = S_OK;
  std::call_once(security_once, [] {
    // VSS requires packet privacy and allows writers to impersonate us only for identification.
    security = CoInitializeSecurity(nullptr, -1, nullptr, nullptr, RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
                                    RPC_C_IMP_LEVEL_IDENTIFY, nullptr, EOAC_DYNAMIC_CLOAKING, nullptr);
    // Someone in the process set it already: theirs stands, and VSS works with the usual defaults.
    if (security == RPC_E_TOO_LATE) security = S_OK;
  });
  return security;
}

}  // namespace lifeboat
