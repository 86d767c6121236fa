// Host facts exported to JavaScript (see host_binding.cc).
#pragma once

#include <napi.h>

namespace lifeboat {

Napi::Value HostFacts(const Napi::CallbackInfo& info);
Napi::Value Services(const Napi::CallbackInfo& info);
Napi::Value Volumes(const Napi::CallbackInfo& info);

}  // namespace lifeboat
