// queryEvents(channel, xpath, maxEvents) → Promise<string[]>: events as XML, oldest first, read
// with EvtQuery on a worker thread. The TypeScript side builds the VolSnap query and parses the XML.
#include "event_binding.h"

#include <windows.h>
#include <winevt.h>

#include <string>
#include <vector>

#include "win_error.h"

namespace lifeboat {

namespace {

class EventQueryWorker final : public Napi::AsyncWorker {
 public:
  EventQueryWorker(Napi::Env env, std::u16string channel, std::u16string xpath, uint32_t max_events)
      : Napi::AsyncWorker(env, "lifeboat.events"),
        deferred_(Napi::Promise::Deferred::New(env)),
        channel_(std::move(channel)),
        xpath_(std::move(xpath)),
        max_events_(max_events) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    EVT_HANDLE query = EvtQuery(nullptr, reinterpret_cast<LPCWSTR>(channel_.c_str()),
                                reinterpret_cast<LPCWSTR>(xpath_.c_str()), EvtQueryChannelPath | EvtQueryForwardDirection);
    if (query == nullptr) {
      error_ = GetLastError();
      return;
    }
    EVT_HANDLE events[16];
    while (xml_.size() < max_events_) {
      DWORD returned = 0;
      if (!EvtNext(query, 16, events, 5000, 0, &returned)) {
        const DWORD error = GetLastError();
        if (error != ERROR_NO_MORE_ITEMS) error_ = error;
        break;
      }
      for (DWORD i = 0; i < returned; i++) {
        if (error_ == ERROR_SUCCESS && xml_.size() < max_events_) Render(events[i]);
        EvtClose(events[i]);
      }
      if (error_ != ERROR_SUCCESS) break;
    }
    EvtClose(query);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != ERROR_SUCCESS) {
      deferred_.Reject(Win32Error(env, "EvtQuery", error_).Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, xml_.size());
    for (size_t i = 0; i < xml_.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, xml_[i]));
    deferred_.Resolve(out);
  }

 private:
  void Render(EVT_HANDLE event) {
    DWORD used = 0;
    DWORD properties = 0;
    if (EvtRender(nullptr, event, EvtRenderEventXml, 0, nullptr, &used, &properties)) return;
    if (GetLastError() != ERROR_INSUFFICIENT_BUFFER) {
      error_ = GetLastError();
      return;
    }
    std::vector<char16_t> buffer(used / sizeof(char16_t) + 1, u'\0');
    if (!EvtRender(nullptr, event, EvtRenderEventXml, static_cast<DWORD>(buffer.size() * sizeof(char16_t)),
                   buffer.data(), &used, &properties)) {
      error_ = GetLastError();
      return;
    }
    xml_.emplace_back(buffer.data());
  }

  Napi::Promise::Deferred deferred_;
  std::u16string channel_;
  std::u16string xpath_;
  uint32_t max_events_;
  std::vector<std::u16string> xml_;
  DWORD error_ = ERROR_SUCCESS;
};

}  // namespace

Napi::Value QueryEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "queryEvents(channel, xpath, maxEvents)");
  auto* worker = new EventQueryWorker(env, info[0].As<Napi::String>().Utf16Value(),
                                      info[1].As<Napi::String>().Utf16Value(), info[2].As<Napi::Number>().Uint32Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace lifeboat
