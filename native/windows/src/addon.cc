// lifeboat_windows.node: the Windows agent's native boundary. Everything here is a thin, blocking-
// free wrapper over Win32; layouts, policy and error mapping live in TypeScript
// (src/adapters/windows-vss, src/formats/windows), where they are tested on any platform.
#include <napi.h>

#include "device_binding.h"
#include "event_binding.h"
#include "host_binding.h"
#include "vss_binding.h"

namespace lifeboat {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  Napi::Function device = Device::Define(env);
  data->device = new Napi::FunctionReference(Napi::Persistent(device));
  env.SetInstanceData<AddonData>(data);
  exports.Set("Device", device);
  exports.Set("VssSession", VssSession::Define(env));
  exports.Set("queryEvents", Napi::Function::New<QueryEvents>(env, "queryEvents"));
  exports.Set("hostFacts", Napi::Function::New<HostFacts>(env, "hostFacts"));
  exports.Set("services", Napi::Function::New<Services>(env, "services"));
  exports.Set("volumes", Napi::Function::New<Volumes>(env, "volumes"));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace lifeboat

// NODE_API_MODULE needs an unqualified name.
static Napi::Object InitLifeboatWindows(Napi::Env env, Napi::Object exports) { return lifeboat::Init(env, exports); }

NODE_API_MODULE(lifeboat_windows, InitLifeboatWindows)
