/** Wiring of NBD URIs into the commands: `--source nbd://…`, `--target nbd://…`, `--to nbd://…`, `--listen`. */

import { FileTarget } from "../adapters/file-target/file-target.ts";
import { NbdSource } from "../adapters/nbd/nbd-source.ts";
import { NbdTarget } from "../adapters/nbd/nbd-target.ts";
import type { ListenAddress } from "../adapters/nbd/server.ts";
import { LifeboatError } from "../domain/errors.ts";
import { isNbdUri, type NbdAddress, NbdUriError, parseNbdUri } from "../formats/nbd/uri.ts";
import type { BlockTarget } from "../ports/block-target.ts";
import type { Log } from "../ports/log.ts";

export { isNbdUri };

/** Parses an NBD URI, turning a bad one into NBD_URI_INVALID (exit 2). */
export function nbdAddress(uri: string, allowed: readonly string[] = []): NbdAddress {
  try {
    return parseNbdUri(uri, allowed);
  } catch (e) {
    if (e instanceof NbdUriError) throw new LifeboatError("NBD_URI_INVALID", e.message, { cause: e });
    throw e;
  }
}

/** `--source nbd://HOST:PORT/EXPORT[?bitmap=CUR[&next=NEXT]]`. */
export function openNbdSource(uri: string, name: string | undefined, log: Log): Promise<NbdSource> {
  return NbdSource.open(nbdAddress(uri, ["bitmap", "next"]), {
    ...(name === undefined ? {} : { name }),
    log,
  });
}

export function openNbdTarget(uri: string, log: Log): Promise<NbdTarget> {
  return NbdTarget.open(nbdAddress(uri), { log });
}

/**
 * The restore target `--to` names: an NBD export, or an image file / block device. `isNew` says the
 * target was created empty by this restore (so it reads as zeros and may be removed on failure).
 */
export async function openRestoreTarget(
  to: string,
  capacity: number,
  log: Log,
): Promise<{ target: BlockTarget; isNew: boolean }> {
  if (isNbdUri(to)) return { target: await openNbdTarget(to, log), isNew: false };
  const target = await FileTarget.open(to, capacity);
  return { target, isNew: target.isNew };
}

/** `--listen`: HOST:PORT, [IPv6]:PORT, PORT, or unix:PATH. */
export function parseListen(text: string): ListenAddress {
  if (text.startsWith("unix:")) {
    const socket = text.slice("unix:".length);
    if (socket === "") throw badListen(text);
    return { socket };
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))?:?(\d+)$/.exec(text);
  if (m === null) throw badListen(text);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) throw badListen(text);
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port };
}

export function listenUri(address: ListenAddress, exportName: string): string {
  const name = encodeURIComponent(exportName);
  if ("socket" in address) return `nbd+unix:///${name}?socket=${address.socket}`;
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `nbd://${host}:${address.port}/${name}`;
}

function badListen(text: string): LifeboatError {
  return new LifeboatError("USAGE", `--listen ${JSON.stringify(text)} is not HOST:PORT, PORT or unix:PATH`, {
    remedy: "Pass --listen 127.0.0.1:10809 (port 0 picks a free port) or --listen unix:/run/lifeboat.sock.",
  });
}
