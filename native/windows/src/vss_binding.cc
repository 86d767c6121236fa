// `VssSession`: one VSS snapshot set, created and closed on worker threads (VSS calls block for
// seconds while writers freeze). The shadow copies are deleted on every path: a failed create
// undoes itself, `close` completes or aborts, and a session dropped by JavaScript is closed by its
// finaliser.
#include "vss_binding.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "com_init.h"
#include "vss_requester.h"
#include "vss_scripted.h"
#include "vss_win32.h"
#include "win_error.h"

namespace lifeboat {

struct SessionState {
  std::mutex mutex;
  bool busy = false;
  bool orphaned = false;
  bool scripted = false;
  VssScript script;
  std::vector<std::string> trace;
  std::unique_ptr<SnapshotSession> session;

  // Synchronous close for the finaliser and for orphaned sessions; never throws.
  void CloseNow() {
    if (!session) return;
    if (!scripted) EnsureComForThread();
    session->Close(false);
    session.reset();
  }
};

namespace {

Napi::String GuidString(Napi::Env env, const Guid& guid) { return Napi::String::New(env, FormatGuid(guid)); }

Napi::Array TraceArray(Napi::Env env, const std::vector<std::string>& trace) {
  Napi::Array out = Napi::Array::New(env, trace.size());
  for (size_t i = 0; i < trace.size(); i++) out.Set(static_cast<uint32_t>(i), trace[i]);
  return out;
}

Napi::Array WritersArray(Napi::Env env, const std::vector<WriterStatus>& writers) {
  Napi::Array out = Napi::Array::New(env, writers.size());
  for (size_t i = 0; i < writers.size(); i++) {
    const WriterStatus& w = writers[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, w.name));
    o.Set("writerId", GuidString(env, w.writer_id));
    o.Set("instanceId", GuidString(env, w.instance_id));
    o.Set("state", Napi::Number::New(env, w.state));
    o.Set("failure", Napi::Number::New(env, static_cast<uint32_t>(w.failure)));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Array CleanupArray(Napi::Env env, const Outcome& outcome) {
  Napi::Array out = Napi::Array::New(env, outcome.cleanup_failures.size());
  for (size_t i = 0; i < outcome.cleanup_failures.size(); i++)
    out.Set(static_cast<uint32_t>(i), outcome.cleanup_failures[i]);
  return out;
}

class CreateWorker final : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, std::shared_ptr<SessionState> state, std::vector<std::u16string> volumes,
               SnapshotOptions options)
      : Napi::AsyncWorker(env, "lifeboat.vss.create"),
        deferred_(Napi::Promise::Deferred::New(env)),
        state_(std::move(state)),
        volumes_(std::move(volumes)),
        options_(options) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::unique_ptr<VssApi> api;
    if (state_->scripted) {
      api = MakeScriptedVssApi(state_->script, &state_->trace);
    } else {
      const int32_t hr = EnsureComForThread();
      if (Failed(hr)) {
        outcome_ = Outcome::Failure("CoInitializeEx", hr);
        return;
      }
      api = MakeWin32VssApi();
    }
    auto session = std::make_unique<SnapshotSession>(std::move(api));
    outcome_ = session->Create(volumes_, options_);
    if (outcome_.ok) state_->session = std::move(session);
  }

  void OnOK() override {
    Napi::Env env = Env();
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->busy = false;
    if (state_->orphaned) state_->CloseNow();
    if (!outcome_.ok) {
      Napi::Error error = HResultError(env, outcome_.step, outcome_.hr);
      error.Set("cleanupFailures", CleanupArray(env, outcome_));
      if (state_->scripted) error.Set("trace", TraceArray(env, state_->trace));
      deferred_.Reject(error.Value());
      return;
    }
    if (!state_->session) {
      deferred_.Reject(Napi::Error::New(env, "the session was released while it was being created").Value());
      return;
    }
    const SnapshotSession& session = *state_->session;
    Napi::Object result = Napi::Object::New(env);
    result.Set("setId", GuidString(env, session.set_id()));
    Napi::Array copies = Napi::Array::New(env, session.shadow_copies().size());
    for (size_t i = 0; i < session.shadow_copies().size(); i++) {
      const ShadowCopy& c = session.shadow_copies()[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("volume", Napi::String::New(env, c.volume));
      o.Set("snapshotId", GuidString(env, c.snapshot_id));
      o.Set("device", Napi::String::New(env, c.device));
      copies.Set(static_cast<uint32_t>(i), o);
    }
    result.Set("shadowCopies", copies);
    result.Set("writers", WritersArray(env, session.writers()));
    if (state_->scripted) result.Set("trace", TraceArray(env, state_->trace));
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SessionState> state_;
  std::vector<std::u16string> volumes_;
  SnapshotOptions options_;
  Outcome outcome_;
};

class CloseWorker final : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, std::shared_ptr<SessionState> state, bool succeeded)
      : Napi::AsyncWorker(env, "lifeboat.vss.close"),
        deferred_(Napi::Promise::Deferred::New(env)),
        state_(std::move(state)),
        succeeded_(succeeded) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (!state_->session) return;
    if (!state_->scripted) {
      const int32_t hr = EnsureComForThread();
      if (Failed(hr)) {
        outcome_ = Outcome::Failure("CoInitializeEx", hr);
        return;
      }
    }
    outcome_ = state_->session->Close(succeeded_);
    state_->session.reset();
  }

  void OnOK() override {
    Napi::Env env = Env();
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->busy = false;
    Napi::Object result = Napi::Object::New(env);
    result.Set("ok", Napi::Boolean::New(env, outcome_.ok));
    if (!outcome_.ok) {
      result.Set("step", Napi::String::New(env, outcome_.step));
      result.Set("hresult", Napi::Number::New(env, static_cast<uint32_t>(outcome_.hr)));
    }
    result.Set("cleanupFailures", CleanupArray(env, outcome_));
    if (state_->scripted) result.Set("trace", TraceArray(env, state_->trace));
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SessionState> state_;
  bool succeeded_;
  Outcome outcome_;
};

std::vector<std::u16string> VolumesArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(info.Env(), "volumes must be an array");
  Napi::Array array = info[0].As<Napi::Array>();
  std::vector<std::u16string> volumes;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value v = array.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(info.Env(), "volumes must be strings");
    volumes.push_back(v.As<Napi::String>().Utf16Value());
  }
  return volumes;
}

}  // namespace

Napi::Function VssSession::Define(Napi::Env env) {
  return DefineClass(env, "VssSession",
                     {InstanceMethod<&VssSession::Create>("create"), InstanceMethod<&VssSession::Close>("close")});
}

// new VssSession({ script?: { failCall?: string, failHresult?: number, writerState?: number } })
VssSession::VssSession(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<VssSession>(info), state_(std::make_shared<SessionState>()) {
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object options = info[0].As<Napi::Object>();
    if (options.Has("script") && options.Get("script").IsObject()) {
      Napi::Object script = options.Get("script").As<Napi::Object>();
      state_->scripted = true;
      if (script.Has("failCall")) state_->script.fail_call = script.Get("failCall").ToString().Utf8Value();
      if (script.Has("failHresult"))
        state_->script.fail_hr = static_cast<HResult>(script.Get("failHresult").ToNumber().Uint32Value());
      if (script.Has("writerState")) state_->script.writer_state = script.Get("writerState").ToNumber().Int32Value();
    }
  }
}

VssSession::~VssSession() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->orphaned = true;
  // A worker in flight closes the session itself when it finishes (see CreateWorker::OnOK).
  if (!state_->busy) state_->CloseNow();
}

void VssSession::Begin(Napi::Env env) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->busy) throw Napi::Error::New(env, "a VSS operation is already running on this session");
  state_->busy = true;
}

// create(volumes, { backupType?: "copy" | "full", writers?: boolean })
Napi::Value VssSession::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::u16string> volumes = VolumesArg(info);
  SnapshotOptions options;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    if (o.Has("backupType")) {
      const std::string type = o.Get("backupType").ToString().Utf8Value();
      if (type == "full") {
        options.backup_type = kVssBackupTypeFull;
      } else if (type != "copy") {
        throw Napi::TypeError::New(env, "backupType must be \"copy\" or \"full\"");
      }
    }
    if (o.Has("writers")) options.writers = o.Get("writers").ToBoolean().Value();
  }
  if (state_->session) throw Napi::Error::New(env, "this session already holds a snapshot set");
  Begin(env);
  auto* worker = new CreateWorker(env, state_, std::move(volumes), options);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// close(succeeded: boolean) → { ok, step?, hresult?, cleanupFailures }
Napi::Value VssSession::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool succeeded = info.Length() > 0 && info[0].ToBoolean().Value();
  Begin(env);
  auto* worker = new CloseWorker(env, state_, succeeded);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace lifeboat
