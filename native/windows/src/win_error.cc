#include "win_error.h"

#include <windows.h>

#include <cstdio>

namespace lifeboat {

std::string Utf8(const std::u16string& text) {
  if (text.empty()) return std::string();
  const wchar_t* wide = reinterpret_cast<const wchar_t*>(text.c_str());
  const int length = static_cast<int>(text.size());
  const int bytes = WideCharToMultiByte(CP_UTF8, 0, wide, length, nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<size_t>(bytes > 0 ? bytes : 0), '\0');
  if (bytes > 0) WideCharToMultiByte(CP_UTF8, 0, wide, length, &out[0], bytes, nullptr, nullptr);
  return out;
}

std::string SystemMessage(uint32_t code) {
  wchar_t* buffer = nullptr;
  const DWORD flags = FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS;
  const DWORD length = FormatMessageW(flags, nullptr, code, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::u16string text;
  if (length > 0 && buffer != nullptr) text.assign(reinterpret_cast<const char16_t*>(buffer), length);
  if (buffer != nullptr) LocalFree(buffer);
  while (!text.empty() && (text.back() == u'\n' || text.back() == u'\r' || text.back() == u' ')) text.pop_back();
  if (!text.empty()) return Utf8(text);
  char fallback[32];
  std::snprintf(fallback, sizeof fallback, "error 0x%08x", static_cast<unsigned>(code));
  return fallback;
}

Napi::Error Win32Error(Napi::Env env, const std::string& syscall, uint32_t win32) {
  Napi::Error error = Napi::Error::New(env, syscall + ": " + SystemMessage(win32));
  error.Set("win32", Napi::Number::New(env, win32));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

Napi::Error HResultError(Napi::Env env, const std::string& step, int32_t hr) {
  Napi::Error error = Napi::Error::New(env, step + ": " + SystemMessage(static_cast<uint32_t>(hr)));
  error.Set("hresult", Napi::Number::New(env, static_cast<uint32_t>(hr)));
  error.Set("step", Napi::String::New(env, step));
  return error;
}

}  // namespace lifeboat
