// Facts about the host that preflight needs and only Win32 can give: firmware, elevation, OS
// version, memory, code pages, hypervisor, services and mounted volumes. All synchronous and quick;
// disks and volume extents go through `Device.ioctl` instead, parsed in TypeScript.
#include "host_binding.h"

#include <windows.h>
#ifdef _MSC_VER
#include <intrin.h>
#else
#include <cpuid.h>
#endif

#include <string>
#include <vector>

#include "win_error.h"

namespace lifeboat {

namespace {

using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOEXW*);

Napi::Value OsVersion(Napi::Env env) {
  OSVERSIONINFOEXW version;
  ZeroMemory(&version, sizeof version);
  version.dwOSVersionInfoSize = sizeof version;
  // GetVersionEx lies to unmanifested programs (node.exe is one); RtlGetVersion does not.
  const FARPROC proc = GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "RtlGetVersion");
  if (proc == nullptr) return env.Null();
  const auto rtl_get_version = reinterpret_cast<RtlGetVersionFn>(reinterpret_cast<void (*)()>(proc));
  if (rtl_get_version(&version) != 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("major", Napi::Number::New(env, version.dwMajorVersion));
  o.Set("minor", Napi::Number::New(env, version.dwMinorVersion));
  o.Set("build", Napi::Number::New(env, version.dwBuildNumber));
  o.Set("servicePackMajor", Napi::Number::New(env, version.wServicePackMajor));
  // 1 workstation, 2 domain controller, 3 server.
  o.Set("productType", Napi::Number::New(env, version.wProductType));
  return o;
}

Napi::Value Firmware(Napi::Env env) {
  FIRMWARE_TYPE type = FirmwareTypeUnknown;
  if (!GetFirmwareType(&type)) return Napi::String::New(env, "unknown");
  if (type == FirmwareTypeUefi) return Napi::String::New(env, "uefi");
  if (type == FirmwareTypeBios) return Napi::String::New(env, "bios");
  return Napi::String::New(env, "unknown");
}

Napi::Value Elevated(Napi::Env env) {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return env.Null();
  TOKEN_ELEVATION elevation;
  DWORD size = 0;
  const BOOL ok = GetTokenInformation(token, TokenElevation, &elevation, sizeof elevation, &size);
  CloseHandle(token);
  if (!ok) return env.Null();
  return Napi::Boolean::New(env, elevation.TokenIsElevated != 0);
}

// CPUID through whichever intrinsic the compiler has (MinGW's macro or MSVC's function).
void Cpuid(unsigned leaf, unsigned& a, unsigned& b, unsigned& c, unsigned& d) {
#ifdef _MSC_VER
  int regs[4];
  __cpuid(regs, static_cast<int>(leaf));
  a = static_cast<unsigned>(regs[0]);
  b = static_cast<unsigned>(regs[1]);
  c = static_cast<unsigned>(regs[2]);
  d = static_cast<unsigned>(regs[3]);
#else
  __cpuid(leaf, a, b, c, d);
#endif
}

Napi::Object Hypervisor(Napi::Env env) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  Cpuid(1, a, b, c, d);
  Napi::Object o = Napi::Object::New(env);
  const bool present = (c >> 31) & 1u;
  o.Set("present", Napi::Boolean::New(env, present));
  if (present) {
    Cpuid(0x40000000u, a, b, c, d);
    char vendor[13];
    for (int i = 0; i < 4; i++) {
      vendor[i] = static_cast<char>(b >> (8 * i));
      vendor[4 + i] = static_cast<char>(c >> (8 * i));
      vendor[8 + i] = static_cast<char>(d >> (8 * i));
    }
    vendor[12] = '\0';
    o.Set("vendor", Napi::String::New(env, vendor));
  }
  return o;
}

std::u16string Wide(const wchar_t* text) { return std::u16string(reinterpret_cast<const char16_t*>(text)); }

Napi::Array MultiString(Napi::Env env, const std::vector<wchar_t>& buffer) {
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t i = 0; i < buffer.size() && buffer[i] != L'\0';) {
    const std::u16string item = Wide(&buffer[i]);
    out.Set(n++, Napi::String::New(env, item));
    i += item.size() + 1;
  }
  return out;
}

Napi::Object VolumeFacts(Napi::Env env, const wchar_t* name) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("guidPath", Napi::String::New(env, Wide(name)));
  DWORD needed = 0;
  GetVolumePathNamesForVolumeNameW(name, nullptr, 0, &needed);
  std::vector<wchar_t> paths(needed + 1, L'\0');
  if (GetVolumePathNamesForVolumeNameW(name, paths.data(), static_cast<DWORD>(paths.size()), &needed))
    o.Set("mountPoints", MultiString(env, paths));
  else
    o.Set("mountPoints", Napi::Array::New(env));
  wchar_t label[MAX_PATH + 1] = L"";
  wchar_t file_system[MAX_PATH + 1] = L"";
  DWORD serial = 0, max_component = 0, fs_flags = 0;
  if (GetVolumeInformationW(name, label, MAX_PATH + 1, &serial, &max_component, &fs_flags, file_system, MAX_PATH + 1)) {
    o.Set("label", Napi::String::New(env, Wide(label)));
    o.Set("fileSystem", Napi::String::New(env, Wide(file_system)));
    o.Set("serial", Napi::Number::New(env, serial));
  } else {
    // Unformatted, BitLocker-locked or otherwise unreadable: synced raw, at full capacity.
    o.Set("fileSystem", Napi::String::New(env, "RAW"));
    o.Set("error", Napi::String::New(env, SystemMessage(GetLastError())));
  }
  ULARGE_INTEGER available, total, free;
  if (GetDiskFreeSpaceExW(name, &available, &total, &free)) {
    o.Set("totalBytes", Napi::Number::New(env, static_cast<double>(total.QuadPart)));
    o.Set("freeBytes", Napi::Number::New(env, static_cast<double>(free.QuadPart)));
  }
  DWORD sectors_per_cluster = 0, bytes_per_sector = 0, free_clusters = 0, total_clusters = 0;
  if (GetDiskFreeSpaceW(name, &sectors_per_cluster, &bytes_per_sector, &free_clusters, &total_clusters))
    o.Set("clusterSize", Napi::Number::New(env, static_cast<double>(sectors_per_cluster) * bytes_per_sector));
  o.Set("driveType", Napi::Number::New(env, GetDriveTypeW(name)));
  return o;
}

std::u16string VolumeOf(const wchar_t* path) {
  wchar_t mount[MAX_PATH + 1];
  wchar_t volume[MAX_PATH + 1];
  if (!GetVolumePathNameW(path, mount, MAX_PATH + 1)) return std::u16string();
  if (!GetVolumeNameForVolumeMountPointW(mount, volume, MAX_PATH + 1)) return std::u16string();
  return Wide(volume);
}

}  // namespace

Napi::Value HostFacts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  wchar_t name[256];
  DWORD size = 256;
  if (GetComputerNameExW(ComputerNameDnsFullyQualified, name, &size)) o.Set("hostName", Napi::String::New(env, Wide(name)));
  o.Set("os", OsVersion(env));
  o.Set("firmware", Firmware(env));
  o.Set("elevated", Elevated(env));
  SYSTEM_INFO system;
  GetNativeSystemInfo(&system);
  o.Set("processorArchitecture", Napi::Number::New(env, system.wProcessorArchitecture));
  o.Set("processors", Napi::Number::New(env, system.dwNumberOfProcessors));
  MEMORYSTATUSEX memory;
  memory.dwLength = sizeof memory;
  if (GlobalMemoryStatusEx(&memory)) {
    o.Set("totalMemory", Napi::Number::New(env, static_cast<double>(memory.ullTotalPhys)));
    o.Set("availableMemory", Napi::Number::New(env, static_cast<double>(memory.ullAvailPhys)));
  }
  o.Set("ansiCodePage", Napi::Number::New(env, GetACP()));
  o.Set("oemCodePage", Napi::Number::New(env, GetOEMCP()));
  o.Set("hypervisor", Hypervisor(env));
  o.Set("uptimeMs", Napi::Number::New(env, static_cast<double>(GetTickCount64())));
  wchar_t windows[MAX_PATH + 1];
  if (GetWindowsDirectoryW(windows, MAX_PATH + 1) > 0) o.Set("windowsVolume", Napi::String::New(env, VolumeOf(windows)));
  return o;
}

Napi::Value Services(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SC_HANDLE scm = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_ENUMERATE_SERVICE | SC_MANAGER_CONNECT);
  if (scm == nullptr) throw Win32Error(env, "OpenSCManagerW", GetLastError());
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  DWORD resume = 0;
  std::vector<BYTE> buffer(64 * 1024);
  for (;;) {
    DWORD needed = 0, count = 0;
    const BOOL ok = EnumServicesStatusExW(scm, SC_ENUM_PROCESS_INFO, SERVICE_WIN32, SERVICE_STATE_ALL, buffer.data(),
                                          static_cast<DWORD>(buffer.size()), &needed, &count, &resume, nullptr);
    const DWORD error = ok ? ERROR_SUCCESS : GetLastError();
    if (!ok && error != ERROR_MORE_DATA) {
      CloseServiceHandle(scm);
      throw Win32Error(env, "EnumServicesStatusExW", error);
    }
    const auto* entries = reinterpret_cast<const ENUM_SERVICE_STATUS_PROCESSW*>(buffer.data());
    for (DWORD i = 0; i < count; i++) {
      Napi::Object s = Napi::Object::New(env);
      s.Set("name", Napi::String::New(env, Wide(entries[i].lpServiceName)));
      s.Set("displayName", Napi::String::New(env, Wide(entries[i].lpDisplayName)));
      s.Set("state", Napi::Number::New(env, entries[i].ServiceStatusProcess.dwCurrentState));
      SC_HANDLE service = OpenServiceW(scm, entries[i].lpServiceName, SERVICE_QUERY_CONFIG);
      if (service != nullptr) {
        DWORD config_size = 0;
        QueryServiceConfigW(service, nullptr, 0, &config_size);
        std::vector<BYTE> config(config_size + sizeof(QUERY_SERVICE_CONFIGW));
        auto* c = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(config.data());
        if (QueryServiceConfigW(service, c, static_cast<DWORD>(config.size()), &config_size)) {
          s.Set("startType", Napi::Number::New(env, c->dwStartType));
          if (c->lpBinaryPathName != nullptr) s.Set("binaryPath", Napi::String::New(env, Wide(c->lpBinaryPathName)));
        }
        CloseServiceHandle(service);
      }
      out.Set(n++, s);
    }
    if (ok) break;
    if (needed > buffer.size()) buffer.resize(needed);
  }
  CloseServiceHandle(scm);
  return out;
}

Napi::Value Volumes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  wchar_t name[MAX_PATH + 1];
  HANDLE find = FindFirstVolumeW(name, MAX_PATH + 1);
  if (find == INVALID_HANDLE_VALUE) throw Win32Error(env, "FindFirstVolumeW", GetLastError());
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  do out.Set(n++, VolumeFacts(env, name));
  while (FindNextVolumeW(find, name, MAX_PATH + 1));
  const DWORD error = GetLastError();
  FindVolumeClose(find);
  if (error != ERROR_NO_MORE_FILES) throw Win32Error(env, "FindNextVolumeW", error);
  return out;
}

}  // namespace lifeboat
