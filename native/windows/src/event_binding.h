// Event log queries exported to JavaScript (see event_binding.cc).
#pragma once

#include <napi.h>

namespace lifeboat {

Napi::Value QueryEvents(const Napi::CallbackInfo& info);

}  // namespace lifeboat
