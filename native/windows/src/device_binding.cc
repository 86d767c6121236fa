// `Device`: a handle on a volume, disk, shadow copy or file, with DeviceIoControl and unbuffered
// positional reads that run on libuv's worker threads. IOCTL input and output stay raw bytes: the
// TypeScript side owns the codes and the structure layouts (src/formats/windows), which keeps them
// testable on any platform and checked against MinGW's headers (native/windows/test/layout_probe.cc).
#include "device_binding.h"

#include <windows.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "win_error.h"

namespace lifeboat {

class Handle {
 public:
  explicit Handle(HANDLE h) : h_(h) {}
  ~Handle() {
    if (h_ != INVALID_HANDLE_VALUE) CloseHandle(h_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  HANDLE get() const { return h_; }

 private:
  HANDLE h_;
};

namespace {

// Output buffers grow up to this before an IOCTL that keeps asking for more is given up on.
constexpr size_t kMaxIoctlOutput = 64u << 20;
constexpr uint32_t kMaxReadBytes = 64u << 20;
// FILE_FLAG_NO_BUFFERING needs sector-multiple offsets and lengths; the buffer is page-aligned.
constexpr uint64_t kUnbufferedAlignment = 512;

// Runs one overlapped operation to completion on the calling (worker) thread.
class Overlapped {
 public:
  Overlapped() {
    ZeroMemory(&ov_, sizeof ov_);
    ov_.hEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  }
  ~Overlapped() {
    if (ov_.hEvent != nullptr) CloseHandle(ov_.hEvent);
  }
  Overlapped(const Overlapped&) = delete;
  Overlapped& operator=(const Overlapped&) = delete;

  OVERLAPPED* at(uint64_t offset) {
    ov_.Offset = static_cast<DWORD>(offset & 0xffffffffu);
    ov_.OffsetHigh = static_cast<DWORD>(offset >> 32);
    return &ov_;
  }
  bool ready() const { return ov_.hEvent != nullptr; }
  // `started` is what ReadFile/DeviceIoControl returned; ERROR_MORE_DATA still reports the bytes.
  DWORD Finish(HANDLE h, BOOL started, DWORD* transferred) {
    *transferred = 0;
    if (!started) {
      const DWORD error = GetLastError();
      if (error != ERROR_IO_PENDING) return error;
    }
    if (!GetOverlappedResult(h, &ov_, transferred, TRUE)) return GetLastError();
    return ERROR_SUCCESS;
  }

 private:
  OVERLAPPED ov_;
};

class IoctlWorker final : public Napi::AsyncWorker {
 public:
  IoctlWorker(Napi::Env env, std::shared_ptr<Handle> handle, uint32_t code, std::vector<uint8_t> input,
              size_t capacity)
      : Napi::AsyncWorker(env, "lifeboat.ioctl"),
        deferred_(Napi::Promise::Deferred::New(env)),
        handle_(std::move(handle)),
        code_(code),
        input_(std::move(input)),
        capacity_(capacity) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    size_t capacity = capacity_;
    for (;;) {
      output_.assign(capacity, 0);
      Overlapped ov;
      if (!ov.ready()) {
        error_ = GetLastError();
        return;
      }
      DWORD returned = 0;
      const BOOL started = DeviceIoControl(handle_->get(), code_, input_.empty() ? nullptr : input_.data(),
                                           static_cast<DWORD>(input_.size()), output_.empty() ? nullptr : output_.data(),
                                           static_cast<DWORD>(output_.size()), nullptr, ov.at(0));
      error_ = ov.Finish(handle_->get(), started, &returned);
      const bool too_small = error_ == ERROR_INSUFFICIENT_BUFFER || error_ == ERROR_BAD_LENGTH;
      if (too_small && capacity < kMaxIoctlOutput) {
        capacity = capacity == 0 ? 4096 : capacity * 2;
        continue;
      }
      output_.resize(returned);
      return;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    // Any other error rejects; ERROR_MORE_DATA is a partial answer the caller continues from.
    if (error_ != ERROR_SUCCESS && error_ != ERROR_MORE_DATA) {
      deferred_.Reject(Win32Error(env, "DeviceIoControl", error_).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("more", Napi::Boolean::New(env, error_ == ERROR_MORE_DATA));
    result.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, output_.data(), output_.size()));
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Handle> handle_;
  uint32_t code_;
  std::vector<uint8_t> input_;
  size_t capacity_;
  std::vector<uint8_t> output_;
  DWORD error_ = ERROR_SUCCESS;
};

class ReadWorker final : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, std::shared_ptr<Handle> handle, uint64_t offset, uint32_t length)
      : Napi::AsyncWorker(env, "lifeboat.read"),
        deferred_(Napi::Promise::Deferred::New(env)),
        handle_(std::move(handle)),
        offset_(offset),
        length_(length) {}

  ~ReadWorker() override {
    if (buffer_ != nullptr) VirtualFree(buffer_, 0, MEM_RELEASE);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (length_ == 0) return;
    // VirtualAlloc is page-aligned, which satisfies any sector size for unbuffered I/O.
    buffer_ = static_cast<uint8_t*>(VirtualAlloc(nullptr, length_, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE));
    if (buffer_ == nullptr) {
      error_ = GetLastError();
      return;
    }
    Overlapped ov;
    if (!ov.ready()) {
      error_ = GetLastError();
      return;
    }
    const BOOL started = ReadFile(handle_->get(), buffer_, length_, nullptr, ov.at(offset_));
    error_ = ov.Finish(handle_->get(), started, &read_);
    // Reading at or past the end is a short read, not an error.
    if (error_ == ERROR_HANDLE_EOF) error_ = ERROR_SUCCESS;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != ERROR_SUCCESS) {
      deferred_.Reject(Win32Error(env, "ReadFile", error_).Value());
      return;
    }
    if (buffer_ == nullptr) {
      deferred_.Resolve(Napi::Buffer<uint8_t>::New(env, 0));
      return;
    }
    // Hand the aligned block to JavaScript without a copy; V8 frees it through the finaliser.
    uint8_t* data = buffer_;
    buffer_ = nullptr;
    deferred_.Resolve(Napi::Buffer<uint8_t>::New(env, data, read_, [](Napi::Env, uint8_t* block) {
      VirtualFree(block, 0, MEM_RELEASE);
    }));
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Handle> handle_;
  uint64_t offset_;
  uint32_t length_;
  uint8_t* buffer_ = nullptr;
  DWORD read_ = 0;
  DWORD error_ = ERROR_SUCCESS;
};

std::u16string WideArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return info[index].As<Napi::String>().Utf16Value();
}

uint64_t OffsetArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  const double value = info[index].As<Napi::Number>().DoubleValue();
  // Offsets come from JavaScript numbers: only integers up to 2^53 are exact.
  if (!(value >= 0) || value > 9007199254740991.0 || value != static_cast<double>(static_cast<uint64_t>(value)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a non-negative safe integer");
  return static_cast<uint64_t>(value);
}

bool BoolOption(const Napi::Object& options, const char* key) {
  return options.Has(key) && options.Get(key).ToBoolean().Value();
}

}  // namespace

struct DeviceState {
  std::mutex mutex;
  std::shared_ptr<Handle> handle;
  bool unbuffered = false;
};

Napi::Function Device::Define(Napi::Env env) {
  return DefineClass(env, "Device",
                     {
                         InstanceMethod<&Device::Ioctl>("ioctl"),
                         InstanceMethod<&Device::Read>("read"),
                         InstanceMethod<&Device::Close>("close"),
                         StaticMethod<&Device::OpenById>("openById"),
                     });
}

// new Device(path, { access: "read" | "query", unbuffered?: boolean })
Device::Device(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Device>(info), state_(new DeviceState) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && info[0].IsExternal()) {
    // Internal: adopt a handle opened in C++ (openById).
    state_->handle.reset(info[0].As<Napi::External<Handle>>().Data());
    return;
  }
  const std::u16string path = WideArg(info, 0, "path");
  Napi::Object options = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  std::string access = "read";
  if (options.Has("access")) access = options.Get("access").ToString().Utf8Value();
  if (access != "read" && access != "query") throw Napi::TypeError::New(env, "access must be \"read\" or \"query\"");
  state_->unbuffered = BoolOption(options, "unbuffered");
  // "query" opens with no data access, which IOCTLs such as the drive layout allow without
  // administrator rights; directories need backup semantics to open at all.
  const DWORD desired = access == "read" ? GENERIC_READ : 0;
  DWORD flags = FILE_FLAG_OVERLAPPED | FILE_FLAG_BACKUP_SEMANTICS;
  if (state_->unbuffered) flags |= FILE_FLAG_NO_BUFFERING;
  const HANDLE h = CreateFileW(reinterpret_cast<LPCWSTR>(path.c_str()), desired,
                               FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING, flags,
                               nullptr);
  if (h == INVALID_HANDLE_VALUE) throw Win32Error(env, "CreateFileW " + Utf8(path), GetLastError());
  state_->handle = std::make_shared<Handle>(h);
}

Device::~Device() = default;

std::shared_ptr<Handle> Device::Acquire(Napi::Env env) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->handle) throw Napi::Error::New(env, "device is closed");
  return state_->handle;
}

// ioctl(code, input: Buffer | null, outputCapacity) → Promise<{ bytes: Buffer, more: boolean }>
Napi::Value Device::Ioctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "ioctl(code, input, outputCapacity)");
  const uint32_t code = info[0].As<Napi::Number>().Uint32Value();
  std::vector<uint8_t> input;
  if (info[1].IsBuffer()) {
    Napi::Buffer<uint8_t> in = info[1].As<Napi::Buffer<uint8_t>>();
    input.assign(in.Data(), in.Data() + in.Length());
  } else if (!info[1].IsNull() && !info[1].IsUndefined()) {
    throw Napi::TypeError::New(env, "input must be a Buffer or null");
  }
  const uint64_t capacity = OffsetArg(info, 2, "outputCapacity");
  if (capacity > kMaxIoctlOutput) throw Napi::RangeError::New(env, "outputCapacity is too large");
  std::shared_ptr<Handle> handle = Acquire(env);
  auto* worker = new IoctlWorker(env, handle, code, std::move(input), static_cast<size_t>(capacity));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// read(offset, length) → Promise<Buffer>; may be short at the end of the device.
Napi::Value Device::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t offset = OffsetArg(info, 0, "offset");
  const uint64_t length = OffsetArg(info, 1, "length");
  if (length > kMaxReadBytes) throw Napi::RangeError::New(env, "length is too large for one read");
  if (state_->unbuffered && (offset % kUnbufferedAlignment != 0 || length % kUnbufferedAlignment != 0))
    throw Napi::RangeError::New(env, "unbuffered reads need sector-aligned offsets and lengths");
  std::shared_ptr<Handle> handle = Acquire(env);
  auto* worker = new ReadWorker(env, handle, offset, static_cast<uint32_t>(length));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// close(): operations in flight keep the handle until they finish; new ones are refused.
Napi::Value Device::Close(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (state_->handle) CancelIoEx(state_->handle->get(), nullptr);
  state_->handle.reset();
  return info.Env().Undefined();
}

// Device.openById(volumeRootPath, fileId: Buffer(16), extended: boolean) → Device
// Opens a file by its NTFS file reference (for FSCTL_GET_RETRIEVAL_POINTERS), with attribute
// access only: its data is never read through this handle.
Napi::Value Device::OpenById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::u16string root = WideArg(info, 0, "volumeRootPath");
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "fileId must be a Buffer");
  Napi::Buffer<uint8_t> id = info[1].As<Napi::Buffer<uint8_t>>();
  const bool extended = info.Length() > 2 && info[2].ToBoolean().Value();
  if (id.Length() != (extended ? 16u : 8u)) throw Napi::RangeError::New(env, "fileId has the wrong length");
  const HANDLE hint = CreateFileW(reinterpret_cast<LPCWSTR>(root.c_str()), 0,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_EXISTING,
                                  FILE_FLAG_BACKUP_SEMANTICS, nullptr);
  if (hint == INVALID_HANDLE_VALUE) throw Win32Error(env, "CreateFileW " + Utf8(root), GetLastError());
  Handle hint_handle(hint);
  FILE_ID_DESCRIPTOR descriptor;
  ZeroMemory(&descriptor, sizeof descriptor);
  descriptor.dwSize = sizeof descriptor;
  if (extended) {
    descriptor.Type = ExtendedFileIdType;
    CopyMemory(&descriptor.ExtendedFileId, id.Data(), 16);
  } else {
    descriptor.Type = FileIdType;
    CopyMemory(&descriptor.FileId, id.Data(), 8);
  }
  const HANDLE h = OpenFileById(hint, &descriptor, FILE_READ_ATTRIBUTES,
                                FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED);
  if (h == INVALID_HANDLE_VALUE) throw Win32Error(env, "OpenFileById", GetLastError());
  Napi::FunctionReference* constructor = env.GetInstanceData<AddonData>()->device;
  return constructor->New({Napi::External<Handle>::New(env, new Handle(h))});
}

}  // namespace lifeboat
