import type { NativeError } from "../native.ts";

/** An error shaped like the addon's: a Win32 error (`win32`, `syscall`) or a VSS step's HRESULT. */
export function nativeError(
  message: string,
  fields: { win32?: number; hresult?: number; syscall?: string; step?: string },
): NativeError {
  return Object.assign(new Error(message), fields) as NativeError;
}
