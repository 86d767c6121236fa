/**
 * NBD URIs as the NBD URI standard writes them (the form qemu, nbdkit and libnbd accept):
 *   nbd://HOST[:PORT]/EXPORT          TCP (default port 10809)
 *   nbds://HOST[:PORT]/EXPORT         TCP with TLS required
 *   nbd+unix:///EXPORT?socket=PATH    unix socket (nbds+unix for TLS)
 * Query parameters: `tls-certificates=DIR` (ca-cert.pem, and client-cert.pem/client-key.pem if the
 * server verifies clients), `tls-verify-peer=false`, `timeout=SECONDS` per request, plus whatever the
 * caller allows (the dirty-bitmap source's `bitmap` and `next`). Unknown parameters are refused, so
 * a typo never silently changes what a job does.
 */

import { DEFAULT_PORT } from "./protocol.ts";

export class NbdUriError extends Error {
  constructor(
    readonly uri: string,
    reason: string,
  ) {
    super(`${uri}: ${reason}`);
    this.name = "NbdUriError";
  }
}

export type NbdEndpoint =
  | { readonly transport: "tcp"; readonly host: string; readonly port: number }
  | { readonly transport: "unix"; readonly socket: string };

export interface NbdAddress {
  readonly endpoint: NbdEndpoint;
  readonly exportName: string;
  readonly tls: boolean;
  readonly tlsCertificates?: string;
  readonly tlsVerifyPeer: boolean;
  /** Per-request timeout in milliseconds; undefined waits as long as the server takes. */
  readonly timeoutMs?: number;
  /** The caller's own parameters, by name. */
  readonly params: ReadonlyMap<string, string>;
}

const COMMON = new Set(["socket", "tls-certificates", "tls-verify-peer", "timeout"]);

export function isNbdUri(text: string): boolean {
  return /^nbds?(\+unix)?:\/\//i.test(text);
}

export function parseNbdUri(text: string, allowed: readonly string[] = []): NbdAddress {
  const m = /^(nbds?)(\+unix)?:\/\//i.exec(text);
  if (m === null) throw new NbdUriError(text, "not an NBD URI (nbd://, nbds://, nbd+unix://, nbds+unix://)");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NbdUriError(text, "not a valid URI");
  }
  if (url.username !== "" || url.password !== "")
    throw new NbdUriError(text, "credentials do not belong in an NBD URI");
  if (url.hash !== "") throw new NbdUriError(text, "an NBD URI has no #fragment");
  const params = new Map<string, string>();
  for (const [key, value] of url.searchParams) {
    if (!COMMON.has(key) && !allowed.includes(key)) {
      const known = [...COMMON, ...allowed].join(", ");
      throw new NbdUriError(text, `unknown parameter ${JSON.stringify(key)} (known: ${known})`);
    }
    if (params.has(key)) throw new NbdUriError(text, `parameter ${key} is given twice`);
    params.set(key, value);
  }
  const tls = (m[1] as string).toLowerCase() === "nbds";
  const exportName = decodePath(text, url.pathname);
  let endpoint: NbdEndpoint;
  if (m[2] !== undefined) {
    if (url.host !== "")
      throw new NbdUriError(text, "a unix-socket URI has no host (nbd+unix:///EXPORT?socket=PATH)");
    const socket = params.get("socket");
    if (socket === undefined || socket === "")
      throw new NbdUriError(text, "a unix-socket URI needs ?socket=PATH");
    endpoint = { transport: "unix", socket };
  } else {
    if (params.has("socket")) throw new NbdUriError(text, "socket= belongs to nbd+unix:// URIs");
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (host === "") throw new NbdUriError(text, "no host");
    const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new NbdUriError(text, `bad port ${url.port}`);
    endpoint = { transport: "tcp", host, port };
  }
  const verify = params.get("tls-verify-peer");
  if (verify !== undefined && verify !== "true" && verify !== "false") {
    throw new NbdUriError(text, "tls-verify-peer must be true or false");
  }
  const timeout = params.get("timeout");
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    const seconds = Number(timeout);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
      throw new NbdUriError(text, "timeout must be a number of seconds (0 < timeout ≤ 86400)");
    }
    timeoutMs = Math.round(seconds * 1000);
  }
  const certificates = params.get("tls-certificates");
  if (!tls && (certificates !== undefined || verify !== undefined)) {
    throw new NbdUriError(text, "TLS parameters need an nbds:// or nbds+unix:// URI");
  }
  return {
    endpoint,
    exportName,
    tls,
    ...(certificates === undefined ? {} : { tlsCertificates: certificates }),
    tlsVerifyPeer: verify !== "false",
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    params,
  };
}

/** The URI for logs and output (no query parameters, which may name key files). */
export function displayNbdUri(a: NbdAddress): string {
  const scheme = a.tls ? "nbds" : "nbd";
  const name = encodeURIComponent(a.exportName);
  if (a.endpoint.transport === "unix") return `${scheme}+unix:///${name}?socket=${a.endpoint.socket}`;
  const host = a.endpoint.host.includes(":") ? `[${a.endpoint.host}]` : a.endpoint.host;
  return `${scheme}://${host}:${a.endpoint.port}/${name}`;
}

function decodePath(text: string, pathname: string): string {
  const raw = pathname.startsWith("/") ? pathname.slice(1) : pathname;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new NbdUriError(text, "the export name is not valid percent-encoding");
  }
}
