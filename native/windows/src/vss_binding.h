// The `VssSession` class exported to JavaScript (see vss_binding.cc).
#pragma once

#include <napi.h>

#include <memory>

namespace lifeboat {

struct SessionState;

class VssSession final : public Napi::ObjectWrap<VssSession> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit VssSession(const Napi::CallbackInfo& info);
  ~VssSession() override;

 private:
  Napi::Value Create(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Begin(Napi::Env env);

  std::shared_ptr<SessionState> state_;
};

}  // namespace lifeboat
