// Node-API addon that drives VMware's VDDK (libvixDiskLib), loaded at run time with dlopen from a
// configured path — never linked at build time, so Lifeboat builds and runs where VDDK is absent.
//
// Every VDDK call for a connection (ConnectEx, Open, Read, QueryAllocatedBlocks, Close,
// Disconnect) runs on that connection's own worker thread: the event loop never blocks, calls on a
// handle are serialised as VDDK requires, and Open/Close happen on the same thread (HotAdd cares).
// Results come back through a thread-safe function as promise resolutions.

#include <dlfcn.h>

#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <napi.h>

#include "../include/vixdisklib-abi.h"
#include "worker.h"

namespace {

using lifeboat_vddk::Job;
using lifeboat_vddk::Worker;

// ── VDDK log lines, collected from any thread and drained by JavaScript ──────────────────────────

std::mutex logMutex;
std::deque<std::string> logLines;

void collect(const char* level, const char* fmt, va_list args) {
  char text[2048];
  vsnprintf(text, sizeof text, fmt, args);
  std::lock_guard<std::mutex> guard(logMutex);
  if (logLines.size() >= 1000) logLines.pop_front();
  logLines.emplace_back(std::string(level) + " " + text);
}
void logInfo(const char* fmt, va_list args) { collect("info", fmt, args); }
void logWarn(const char* fmt, va_list args) { collect("warn", fmt, args); }
void logPanic(const char* fmt, va_list args) {
  // VDDK's panic handler must not return: its state is undefined after a panic.
  vfprintf(stderr, fmt, args);
  fputs("\nlifeboat: VDDK panicked; aborting\n", stderr);
  abort();
}

// ── The library's entry points ───────────────────────────────────────────────────────────────────

struct Api {
  void* handle = nullptr;
  std::string path;
  VixDiskLib_InitEx_fn initEx = nullptr;
  VixDiskLib_Exit_fn exit = nullptr;
  VixDiskLib_ConnectEx_fn connectEx = nullptr;
  VixDiskLib_Disconnect_fn disconnect = nullptr;
  VixDiskLib_Open_fn open = nullptr;
  VixDiskLib_Close_fn close = nullptr;
  VixDiskLib_GetInfo_fn getInfo = nullptr;
  VixDiskLib_FreeInfo_fn freeInfo = nullptr;
  VixDiskLib_Read_fn read = nullptr;
  VixDiskLib_GetTransportMode_fn transportMode = nullptr;
  VixDiskLib_GetErrorText_fn errorText = nullptr;
  VixDiskLib_FreeErrorText_fn freeErrorText = nullptr;
  VixDiskLib_QueryAllocatedBlocks_fn queryAllocated = nullptr;  // VDDK 6.7+
  VixDiskLib_FreeBlockList_fn freeBlockList = nullptr;
  void (*standinCounters)(int*, int*, int*) = nullptr;          // the test stand-in only

  std::string describe(VixError err) const {
    char* text = errorText(err, nullptr);
    std::string out = text == nullptr ? "VIX error " + std::to_string(err) : std::string(text);
    if (text != nullptr) freeErrorText(text);
    return out;
  }
};

Napi::Error vixError(Napi::Env env, const std::string& what, VixError err, const std::string& text) {
  Napi::Error e = Napi::Error::New(env, what + ": " + text);
  e.Set("vixError", Napi::Number::New(env, static_cast<double>(err)));
  e.Set("code", Napi::String::New(env, "VDDK_FAILED"));
  return e;
}

// Runs `work` on `worker`; the promise resolves with `result(env)` or rejects with the VIX error.
Napi::Value Run(Napi::Env env, const std::shared_ptr<Worker>& worker, const std::shared_ptr<Api>& api, const std::string& what,
                std::function<VixError()> work, std::function<Napi::Value(Napi::Env)> result,
                std::function<void(bool)> after = nullptr) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  auto err = std::make_shared<VixError>(VIX_OK);
  auto text = std::make_shared<std::string>();
  auto job = std::make_shared<Job>();
  job->work = [work, err, text, api] {
    *err = work();
    if (*err != VIX_OK) *text = api->describe(*err);
  };
  job->done = [deferred, err, text, result, what, after](Napi::Env env) {
    Napi::HandleScope scope(env);
    bool ok = *err == VIX_OK;
    if (!ok) {
      deferred->Reject(vixError(env, what, *err, *text).Value());
    } else {
      try {
        deferred->Resolve(result(env));
      } catch (const Napi::Error& e) {
        deferred->Reject(e.Value());
      }
    }
    if (after) after(ok);
  };
  if (!worker->Post(env, job)) {
    deferred->Reject(Napi::Error::New(env, what + ": the VDDK connection is already closed").Value());
  }
  return deferred->Promise();
}

// ── Disk, Connection, Library ────────────────────────────────────────────────────────────────────

class Connection;

class Disk : public Napi::ObjectWrap<Disk> {
 public:
  static Napi::FunctionReference ctor;
  static void Define(Napi::Env env) {
    ctor = Napi::Persistent(DefineClass(env, "VddkDisk",
                                        {InstanceMethod("info", &Disk::Info), InstanceMethod("read", &Disk::Read),
                                         InstanceMethod("queryAllocatedBlocks", &Disk::QueryAllocated),
                                         InstanceMethod("close", &Disk::Close)}));
  }
  explicit Disk(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Disk>(info) {}

  ~Disk() override {
    // A disk the program forgot to close: close it on its connection's thread.
    if (handle_ != nullptr && worker_) {
      auto api = api_;
      VixDiskLibHandle handle = handle_;
      worker_->PostCleanup([api, handle] { api->close(handle); });
    }
  }

  void Bind(Napi::Object connection, std::shared_ptr<Api> api, std::shared_ptr<Worker> worker, VixDiskLibHandle handle) {
    connection_ = Napi::Persistent(connection);
    api_ = std::move(api);
    worker_ = worker;
    handle_ = handle;
  }

 private:
  bool Open(const Napi::CallbackInfo& info) {
    if (handle_ == nullptr) Napi::Error::New(info.Env(), "the VDDK disk is closed").ThrowAsJavaScriptException();
    return handle_ != nullptr;
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    if (!Open(info)) return info.Env().Undefined();
    auto api = api_;
    VixDiskLibHandle handle = handle_;
    auto capacity = std::make_shared<uint64_t>(0);
    auto links = std::make_shared<int>(0);
    auto mode = std::make_shared<std::string>();
    return Run(
        info.Env(), worker_, api_, "VixDiskLib_GetInfo",
        [api, handle, capacity, links, mode] {
          VixDiskLibInfo* i = nullptr;
          VixError err = api->getInfo(handle, &i);
          if (err != VIX_OK) return err;
          *capacity = i->capacity;
          *links = i->numLinks;
          api->freeInfo(i);
          const char* m = api->transportMode(handle);
          *mode = m == nullptr ? "" : m;
          return static_cast<VixError>(VIX_OK);
        },
        [capacity, links, mode](Napi::Env env) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("capacitySectors", Napi::Number::New(env, static_cast<double>(*capacity)));
          o.Set("links", Napi::Number::New(env, *links));
          o.Set("transportMode", Napi::String::New(env, *mode));
          return o;
        });
  }

  // read(startSector, sectorCount, buffer): fills buffer (exactly sectorCount * 512 bytes long).
  Napi::Value Read(const Napi::CallbackInfo& info) {
    if (!Open(info)) return info.Env().Undefined();
    uint64_t start = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    uint64_t count = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    Napi::Buffer<uint8_t> buffer = info[2].As<Napi::Buffer<uint8_t>>();
    if (buffer.Length() != count * VIXDISKLIB_SECTOR_SIZE) {
      Napi::RangeError::New(info.Env(), "read buffer length must be sectorCount * 512").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    auto keep = std::make_shared<Napi::Reference<Napi::Buffer<uint8_t>>>(Napi::Persistent(buffer));
    auto api = api_;
    VixDiskLibHandle handle = handle_;
    uint8_t* data = buffer.Data();
    return Run(
        info.Env(), worker_, api_, "VixDiskLib_Read", [api, handle, start, count, data] { return api->read(handle, start, count, data); },
        [keep](Napi::Env env) {
          keep->Reset();
          return env.Undefined();
        });
  }

  // queryAllocatedBlocks(startSector, sectorCount, chunkSectors) → [offset, length, …] in sectors.
  Napi::Value QueryAllocated(const Napi::CallbackInfo& info) {
    if (!Open(info)) return info.Env().Undefined();
    if (api_->queryAllocated == nullptr) {
      Napi::Error::New(info.Env(), "this VDDK has no VixDiskLib_QueryAllocatedBlocks (VDDK 6.7+)").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    uint64_t start = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    uint64_t count = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    uint64_t chunk = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
    auto api = api_;
    VixDiskLibHandle handle = handle_;
    auto blocks = std::make_shared<std::vector<uint64_t>>();
    return Run(
        info.Env(), worker_, api_, "VixDiskLib_QueryAllocatedBlocks",
        [api, handle, start, count, chunk, blocks] {
          VixDiskLibBlockList* list = nullptr;
          VixError err = api->queryAllocated(handle, start, count, chunk, &list);
          if (err != VIX_OK) return err;
          for (uint32_t i = 0; i < list->numBlocks; i++) {
            blocks->push_back(list->blocks[i].offset);
            blocks->push_back(list->blocks[i].length);
          }
          return api->freeBlockList(list);
        },
        [blocks](Napi::Env env) {
          Napi::Array out = Napi::Array::New(env, blocks->size());
          for (size_t i = 0; i < blocks->size(); i++) out.Set(i, Napi::Number::New(env, static_cast<double>((*blocks)[i])));
          return out;
        });
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (handle_ == nullptr) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    auto api = api_;
    VixDiskLibHandle handle = handle_;
    handle_ = nullptr;  // no call may use it after Close was asked for
    return Run(env, worker_, api_, "VixDiskLib_Close", [api, handle] { return api->close(handle); },
               [](Napi::Env e) { return e.Undefined(); });
  }

  Napi::ObjectReference connection_;  // keeps the connection (and its worker) alive
  std::shared_ptr<Api> api_;
  std::shared_ptr<Worker> worker_;
  VixDiskLibHandle handle_ = nullptr;
};
Napi::FunctionReference Disk::ctor;

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::FunctionReference ctor;
  static void Define(Napi::Env env) {
    ctor = Napi::Persistent(DefineClass(
        env, "VddkConnection", {InstanceMethod("open", &Connection::OpenDisk), InstanceMethod("disconnect", &Connection::Disconnect)}));
  }
  explicit Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {}
  ~Connection() override {
    // A connection the program forgot to disconnect: release it on its own thread, then stop.
    if (worker_ && connection_ != nullptr) {
      auto api = api_;
      VixDiskLibConnection c = connection_;
      worker_->PostCleanup([api, c] { api->disconnect(c); });
    }
    if (worker_) worker_->Stop();
  }

  void Bind(std::shared_ptr<Api> api, std::shared_ptr<Worker> worker, VixDiskLibConnection connection) {
    api_ = std::move(api);
    worker_ = std::move(worker);
    connection_ = connection;
  }

 private:
  Napi::Value OpenDisk(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (connection_ == nullptr) {
      Napi::Error::New(env, "the VDDK connection is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string path = info[0].As<Napi::String>();
    uint32_t flags = info[1].As<Napi::Number>().Uint32Value();
    auto api = api_;
    VixDiskLibConnection c = connection_;
    auto handle = std::make_shared<VixDiskLibHandle>(nullptr);
    std::shared_ptr<Worker> worker = worker_;
    Napi::ObjectReference self = Napi::Persistent(Value());
    auto selfRef = std::make_shared<Napi::ObjectReference>(std::move(self));
    return Run(
        env, worker_, api_, "VixDiskLib_Open " + path, [api, c, path, flags, handle] { return api->open(c, path.c_str(), flags, handle.get()); },
        [api, worker, handle, selfRef](Napi::Env) {
          Napi::Object disk = Disk::ctor.New({});
          Disk::Unwrap(disk)->Bind(selfRef->Value(), api, worker, *handle);
          selfRef->Reset();
          return disk;
        });
  }

  Napi::Value Disconnect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (connection_ == nullptr) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    auto api = api_;
    VixDiskLibConnection c = connection_;
    connection_ = nullptr;  // whatever Disconnect answers, the handle must not be used again
    std::shared_ptr<Worker> worker = worker_;
    // Whatever Disconnect answers, the connection is finished: its thread ends after it.
    return Run(env, worker_, api_, "VixDiskLib_Disconnect", [api, c] { return api->disconnect(c); },
               [](Napi::Env e) { return e.Undefined(); }, [worker](bool) { worker->Stop(); });
  }

  std::shared_ptr<Api> api_;
  std::shared_ptr<Worker> worker_;
  VixDiskLibConnection connection_ = nullptr;
};
Napi::FunctionReference Connection::ctor;

class Library : public Napi::ObjectWrap<Library> {
 public:
  static Napi::FunctionReference ctor;
  static void Define(Napi::Env env) {
    ctor = Napi::Persistent(DefineClass(env, "VddkLibrary",
                                        {InstanceMethod("init", &Library::Init), InstanceMethod("connect", &Library::Connect),
                                         InstanceMethod("exit", &Library::Exit), InstanceMethod("drainLog", &Library::DrainLog),
                                         InstanceMethod("standinCounters", &Library::Counters)}));
  }
  explicit Library(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Library>(info) {}
  ~Library() override {
    if (worker_) worker_->Stop();
  }

  void Bind(Napi::Env env, std::shared_ptr<Api> api) {
    api_ = std::move(api);
    worker_ = Worker::Create(env);
  }

 private:
  // init(libDir | null, configFile | null)
  Napi::Value Init(const Napi::CallbackInfo& info) {
    auto api = api_;
    std::string libDir = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    std::string config = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    return Run(
        info.Env(), worker_, api_, "VixDiskLib_InitEx",
        [api, libDir, config] {
          return api->initEx(LIFEBOAT_VDDK_MAJOR, LIFEBOAT_VDDK_MINOR, &logInfo, &logWarn, &logPanic,
                             libDir.empty() ? nullptr : libDir.c_str(), config.empty() ? nullptr : config.c_str());
        },
        [](Napi::Env e) { return e.Undefined(); });
  }

  // connect({ vmxSpec, serverName, thumbprint, userName, password, port, snapshotRef, transportModes })
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = info[0].As<Napi::Object>();
    auto text = [&](const char* key) { return o.Has(key) && o.Get(key).IsString() ? o.Get(key).As<Napi::String>().Utf8Value() : std::string(); };
    struct Owned {
      std::string vmx, server, thumb, user, password, snapshot, modes;
      uint32_t port = 0;
    };
    auto p = std::make_shared<Owned>();
    p->vmx = text("vmxSpec");
    p->server = text("serverName");
    p->thumb = text("thumbprint");
    p->user = text("userName");
    p->password = text("password");
    p->snapshot = text("snapshotRef");
    p->modes = text("transportModes");
    p->port = o.Has("port") ? o.Get("port").As<Napi::Number>().Uint32Value() : 0;
    auto api = api_;
    std::shared_ptr<Worker> worker = Worker::Create(env);
    auto connection = std::make_shared<VixDiskLibConnection>(nullptr);
    return Run(
        env, worker, api_, "VixDiskLib_ConnectEx",
        [api, p, connection] {
          VixDiskLibConnectParams params{};
          params.vmxSpec = p->vmx.data();
          params.serverName = p->server.data();
          params.thumbPrint = p->thumb.empty() ? nullptr : p->thumb.data();
          params.credType = VIXDISKLIB_CRED_UID;
          params.creds.uid.userName = p->user.data();
          params.creds.uid.password = p->password.data();
          params.port = p->port;
          params.specType = VIXDISKLIB_SPEC_VMX;
          VixError err = api->connectEx(&params, 1, p->snapshot.c_str(), p->modes.empty() ? nullptr : p->modes.c_str(), connection.get());
          std::fill(p->password.begin(), p->password.end(), '\0');  // do not keep the secret around
          return err;
        },
        [api, worker, connection](Napi::Env) {
          Napi::Object c = Connection::ctor.New({});
          Connection::Unwrap(c)->Bind(api, worker, *connection);
          return c;
        },
        [worker](bool ok) {
          if (!ok) worker->Stop();  // no connection came of it: end its thread now
        });
  }

  Napi::Value Exit(const Napi::CallbackInfo& info) {
    api_->exit();
    return info.Env().Undefined();
  }

  Napi::Value DrainLog(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> guard(logMutex);
    Napi::Array out = Napi::Array::New(info.Env(), logLines.size());
    for (size_t i = 0; i < logLines.size(); i++) out.Set(i, Napi::String::New(info.Env(), logLines[i]));
    logLines.clear();
    return out;
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    if (api_->standinCounters == nullptr) return info.Env().Undefined();
    int inits = 0, connections = 0, handles = 0;
    api_->standinCounters(&inits, &connections, &handles);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("initializations", inits);
    o.Set("connections", connections);
    o.Set("handles", handles);
    return o;
  }

  std::shared_ptr<Api> api_;
  std::shared_ptr<Worker> worker_;
};
Napi::FunctionReference Library::ctor;

template <typename T>
bool Resolve(Napi::Env env, Api& api, T& fn, const char* name, bool required) {
  fn = reinterpret_cast<T>(dlsym(api.handle, name));
  if (fn == nullptr && required) {
    Napi::Error e = Napi::Error::New(env, api.path + " has no " + name + ": not a VDDK library of a supported version");
    e.Set("code", Napi::String::New(env, "VDDK_LIBRARY_MISSING"));
    e.ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// load(path): dlopens libvixDiskLib and resolves its entry points.
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto api = std::make_shared<Api>();
  api->path = info[0].As<Napi::String>().Utf8Value();
  api->handle = dlopen(api->path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (api->handle == nullptr) {
    const char* why = dlerror();
    Napi::Error e = Napi::Error::New(env, "cannot load the VDDK library " + api->path + ": " + (why ? why : "unknown error"));
    e.Set("code", Napi::String::New(env, "VDDK_LIBRARY_MISSING"));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool ok = Resolve(env, *api, api->initEx, "VixDiskLib_InitEx", true) && Resolve(env, *api, api->exit, "VixDiskLib_Exit", true) &&
            Resolve(env, *api, api->connectEx, "VixDiskLib_ConnectEx", true) &&
            Resolve(env, *api, api->disconnect, "VixDiskLib_Disconnect", true) && Resolve(env, *api, api->open, "VixDiskLib_Open", true) &&
            Resolve(env, *api, api->close, "VixDiskLib_Close", true) && Resolve(env, *api, api->getInfo, "VixDiskLib_GetInfo", true) &&
            Resolve(env, *api, api->freeInfo, "VixDiskLib_FreeInfo", true) && Resolve(env, *api, api->read, "VixDiskLib_Read", true) &&
            Resolve(env, *api, api->transportMode, "VixDiskLib_GetTransportMode", true) &&
            Resolve(env, *api, api->errorText, "VixDiskLib_GetErrorText", true) &&
            Resolve(env, *api, api->freeErrorText, "VixDiskLib_FreeErrorText", true) &&
            Resolve(env, *api, api->queryAllocated, "VixDiskLib_QueryAllocatedBlocks", false) &&
            Resolve(env, *api, api->freeBlockList, "VixDiskLib_FreeBlockList", false) &&
            Resolve(env, *api, api->standinCounters, "LifeboatStandin_Counters", false);
  if (!ok) return env.Undefined();
  Napi::Object library = Library::ctor.New({});
  Library::Unwrap(library)->Bind(env, api);
  return library;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Disk::Define(env);
  Connection::Define(env);
  Library::Define(env);
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("abi", Napi::String::New(env, std::to_string(LIFEBOAT_VDDK_MAJOR) + "." + std::to_string(LIFEBOAT_VDDK_MINOR)));
  return exports;
}

}  // namespace

NODE_API_MODULE(lifeboat_vddk, Init)
