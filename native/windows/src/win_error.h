// Turning Win32 errors and HRESULTs into JavaScript errors the TypeScript side can classify.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace lifeboat {

// The system's text for a Win32 error or HRESULT, without the trailing line break.
std::string SystemMessage(uint32_t code);

// An Error whose `win32` property holds the GetLastError() value and `syscall` the failing call.
Napi::Error Win32Error(Napi::Env env, const std::string& syscall, uint32_t win32);

// An Error whose `hresult` property holds the (unsigned) HRESULT and `step` the failing VSS step.
Napi::Error HResultError(Napi::Env env, const std::string& step, int32_t hr);

// UTF-16 (Windows' wide strings) to UTF-8 for messages.
std::string Utf8(const std::u16string& text);

}  // namespace lifeboat
