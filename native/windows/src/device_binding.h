// The `Device` class exported to JavaScript (see device_binding.cc).
#pragma once

#include <napi.h>

#include <memory>

namespace lifeboat {

// Per-environment data: constructors needed to create wrapped objects from C++.
struct AddonData {
  Napi::FunctionReference* device = nullptr;
  ~AddonData() { delete device; }
};

class Handle;
struct DeviceState;

class Device final : public Napi::ObjectWrap<Device> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Device(const Napi::CallbackInfo& info);
  ~Device() override;

 private:
  Napi::Value Ioctl(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  static Napi::Value OpenById(const Napi::CallbackInfo& info);
  std::shared_ptr<Handle> Acquire(Napi::Env env);

  std::unique_ptr<DeviceState> state_;
};

}  // namespace lifeboat
