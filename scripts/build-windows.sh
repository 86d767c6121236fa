#!/usr/bin/env bash
# Cross-compiles the Windows agent's native addon (native/windows) with MinGW-w64 on Linux, so the
# Win32/VSS code is compiled and linked on every CI run even though no Windows machine is at hand.
#
#   scripts/build-windows.sh            → native/windows/build/mingw/lifeboat_windows.node
#
# Warnings are errors (-Wall -Wextra -Werror). Objects are rebuilt only when a source or header is
# newer, so calling this again is cheap. On Windows itself, node-gyp builds the same sources from
# native/windows/binding.gyp.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/native/windows/src"
out="${LIFEBOAT_WINDOWS_BUILD_DIR:-$root/native/windows/build/mingw}"
cxx="${MINGW_CXX:-x86_64-w64-mingw32-g++-posix}"
dlltool="${MINGW_DLLTOOL:-x86_64-w64-mingw32-dlltool}"
napi_headers="$root/node_modules/node-api-headers"
addon_api="$root/node_modules/node-addon-api"

for tool in "$cxx" "$dlltool"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-windows: $tool not found; install the Debian package g++-mingw-w64-x86-64" >&2
    exit 2
  fi
done
for dir in "$napi_headers/include" "$napi_headers/def" "$addon_api"; do
  if [ ! -d "$dir" ]; then
    echo "build-windows: $dir is missing; run npm ci first" >&2
    exit 2
  fi
done

mkdir -p "$out/obj"

# node.exe exports the Node-API; an import library lets the DLL link against it by name.
if [ ! -f "$out/libnode_api.a" ] || [ "$napi_headers/def/node_api.def" -nt "$out/libnode_api.a" ]; then
  "$dlltool" -d "$napi_headers/def/node_api.def" -l "$out/libnode_api.a" -D node.exe
fi

cxxflags=(
  -std=c++17 -O2 -g0
  -Wall -Wextra -Werror
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED
  -D_WIN32_WINNT=0x0603 -DWINVER=0x0603 -DUNICODE -D_UNICODE -DNOMINMAX
  -I"$napi_headers/include" -I"$addon_api"
)

newest_header=$(ls -t "$src"/*.h | head -n 1)
objects=()
for source in "$src"/*.cc; do
  object="$out/obj/$(basename "${source%.cc}").o"
  objects+=("$object")
  if [ ! -f "$object" ] || [ "$source" -nt "$object" ] || [ "$newest_header" -nt "$object" ]; then
    echo "build-windows: compiling $(basename "$source")"
    "$cxx" "${cxxflags[@]}" -c "$source" -o "$object"
  fi
done

target="$out/lifeboat_windows.node"
relink=0
[ -f "$target" ] || relink=1
for object in "${objects[@]}"; do [ "$object" -nt "$target" ] && relink=1; done
if [ "$relink" = 1 ]; then
  echo "build-windows: linking $(basename "$target")"
  # -static: the DLL must not depend on MinGW's runtime DLLs, which a Windows host does not have.
  "$cxx" -shared -static -o "$target" "${objects[@]}" \
    -L"$out" -lnode_api -lvssapi -lwevtapi -lole32 -loleaut32 -luuid -ladvapi32 -lkernel32 \
    -Wl,--no-undefined -Wl,--gc-sections -s
fi
echo "$target"
