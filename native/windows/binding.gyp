{
  "targets": [
    {
      "target_name": "lifeboat_windows",
      "conditions": [
        [
          "OS=='win'",
          {
            "sources": [
              "src/addon.cc",
              "src/com_init.cc",
              "src/device_binding.cc",
              "src/event_binding.cc",
              "src/host_binding.cc",
              "src/vss_binding.cc",
              "src/vss_requester.cc",
              "src/vss_scripted.cc",
              "src/vss_win32.cc",
              "src/win_error.cc"
            ],
            "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
            "defines": [
              "NAPI_VERSION=8",
              "NAPI_CPP_EXCEPTIONS",
              "NODE_ADDON_API_DISABLE_DEPRECATED",
              "_WIN32_WINNT=0x0603",
              "WINVER=0x0603",
              "UNICODE",
              "_UNICODE",
              "NOMINMAX"
            ],
            "libraries": ["vssapi.lib", "wevtapi.lib", "ole32.lib", "oleaut32.lib", "advapi32.lib"],
            "msvs_settings": {
              "VCCLCompilerTool": { "ExceptionHandling": 1, "WarningLevel": 3, "AdditionalOptions": ["/std:c++17"] }
            }
          }
        ]
      ]
    }
  ]
}
