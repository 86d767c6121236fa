/** Opens the transport an NBD URI names (TCP or unix socket) and upgrades it to TLS on STARTTLS. */

import { readFile } from "node:fs/promises";
import { connect as netConnect, isIP, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { LifeboatError } from "../../domain/errors.ts";
import { displayNbdUri, type NbdAddress } from "../../formats/nbd/uri.ts";

export async function openSocket(address: NbdAddress, timeoutMs: number): Promise<Socket> {
  const where = displayNbdUri(address);
  const socket =
    address.endpoint.transport === "tcp"
      ? netConnect({ host: address.endpoint.host, port: address.endpoint.port })
      : netConnect({ path: address.endpoint.socket });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LifeboatError(
          "NBD_CONNECT",
          `cannot connect to ${where}: no answer within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(new LifeboatError("NBD_CONNECT", `cannot connect to ${where}: ${e.message}`, { cause: e }));
    });
  });
  return socket;
}

/** Runs the TLS handshake over a socket on which the server has just acknowledged STARTTLS. */
export async function upgradeToTls(raw: Socket, address: NbdAddress, timeoutMs: number): Promise<TLSSocket> {
  const where = displayNbdUri(address);
  const files = await readCertificates(address.tlsCertificates);
  const host = address.endpoint.transport === "tcp" ? address.endpoint.host : undefined;
  const socket = tlsConnect({
    socket: raw,
    ...files,
    rejectUnauthorized: address.tlsVerifyPeer,
    ...(host !== undefined && isIP(host) === 0 ? { servername: host } : {}),
    // Over a unix socket there is no host name to check; the chain is still verified against the CA.
    ...(host === undefined ? { checkServerIdentity: () => undefined } : { host }),
    minVersion: "TLSv1.2",
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LifeboatError(
          "NBD_CONNECT",
          `TLS handshake with ${where} did not finish within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(
        new LifeboatError("NBD_CONNECT", `TLS handshake with ${where} failed: ${e.message}`, {
          cause: e,
          remedy:
            "Check the server's certificate against tls-certificates=DIR (ca-cert.pem, and client-cert.pem/client-key.pem when the server verifies clients).",
        }),
      );
    });
  });
  socket.setNoDelay(true);
  return socket;
}

async function readCertificates(
  dir: string | undefined,
): Promise<{ ca?: Buffer; cert?: Buffer; key?: Buffer }> {
  if (dir === undefined) return {};
  const optional = async (name: string) =>
    readFile(join(dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw new LifeboatError("NBD_CONNECT", `cannot read ${join(dir, name)}: ${e.message}`, { cause: e });
    });
  const [ca, cert, key] = await Promise.all([
    optional("ca-cert.pem"),
    optional("client-cert.pem"),
    optional("client-key.pem"),
  ]);
  if (ca === undefined && cert === undefined) {
    throw new LifeboatError(
      "NBD_CONNECT",
      `tls-certificates=${dir} holds neither ca-cert.pem nor client-cert.pem`,
      {
        remedy: "Point tls-certificates at the directory holding ca-cert.pem (as for nbdkit/qemu-nbd).",
      },
    );
  }
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
  };
}
