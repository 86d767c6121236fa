/**
 * HTTPS to vCenter/ESXi. Every new connection is verified before a single request byte goes out:
 * either its certificate has the pinned thumbprint, or it chains to a trusted CA and names the
 * host. (Pinning needs this: with `rejectUnauthorized: false` alone, a request could be written
 * before anyone looked at the certificate.) Replies are capped in size and time, and the
 * `vmware_soap_session` cookie is kept exactly as the server sent it (vCenter quotes it, vcsim and
 * the PBM endpoint do not).
 */

import type { IncomingHttpHeaders } from "node:http";
import { Agent, type RequestOptions, request } from "node:https";
import type { Duplex } from "node:stream";
import { checkServerIdentity, connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { LifeboatError } from "../../../domain/errors.ts";
import { describeCertificate, matchesThumbprint, type Thumbprint } from "./thumbprint.ts";

export interface TransportOptions {
  /** Accept exactly the certificate with this thumbprint (self-signed vCenter/ESXi certificates). */
  readonly thumbprint?: Thumbprint;
  /** Extra CA certificates (PEM) to trust besides the system store. */
  readonly ca?: string;
  readonly timeoutMs?: number;
  readonly maxReplyBytes?: number;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

const SESSION_COOKIE = "vmware_soap_session";

export class HttpsTransport {
  readonly origin: URL;
  readonly timeoutMs: number;
  readonly maxReplyBytes: number;
  #agent: PinningAgent;
  #cookie: string | undefined;

  constructor(endpoint: URL, options: TransportOptions = {}) {
    if (endpoint.protocol !== "https:") {
      throw new LifeboatError("CONFIG_INVALID", `${endpoint.href} is not an https:// URL`, {
        remedy: "vCenter and ESXi speak HTTPS only: use https://HOST (port 443 unless changed).",
      });
    }
    this.origin = new URL(endpoint.origin);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxReplyBytes = options.maxReplyBytes ?? 32 << 20;
    this.#agent = new PinningAgent(options.thumbprint, options.ca);
  }

  /** The DER certificate the server presented on the last verified connection. */
  get peerCertificate(): Buffer | undefined {
    return this.#agent.lastCertificate;
  }

  /** The session cookie value as received (quotes kept), for VDDK's cookie login and for tests. */
  get sessionCookie(): string | undefined {
    return this.#cookie;
  }

  forgetSession(): void {
    this.#cookie = undefined;
  }

  async send(
    method: "GET" | "POST",
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<HttpReply> {
    const url = new URL(path, this.origin);
    const all: Record<string, string> = { ...headers };
    if (this.#cookie !== undefined) all.Cookie = `${SESSION_COOKIE}=${this.#cookie}`;
    if (body !== undefined) all["Content-Length"] = String(Buffer.byteLength(body));
    const options: RequestOptions = { method, agent: this.#agent, headers: all, timeout: this.timeoutMs };
    const reply = await new Promise<HttpReply>((resolve, reject) => {
      const req = request(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxReplyBytes) {
            req.destroy(
              new LifeboatError(
                "VSPHERE_REPLY_INVALID",
                `${method} ${url.pathname}: the reply is larger than ${this.maxReplyBytes} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on("timeout", () =>
        req.destroy(
          new LifeboatError(
            "VSPHERE_UNREACHABLE",
            `${this.origin.host} did not answer ${method} ${url.pathname} within ${this.timeoutMs / 1000} s`,
          ),
        ),
      );
      req.on("error", (e) => reject(this.#classify(e)));
      req.end(body);
    });
    this.#keepCookie(reply.headers["set-cookie"]);
    return reply;
  }

  close(): void {
    this.#agent.destroy();
  }

  #keepCookie(setCookie: readonly string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const pair = line.split(";", 1)[0] ?? "";
      const eq = pair.indexOf("=");
      if (eq > 0 && pair.slice(0, eq).trim() === SESSION_COOKIE) this.#cookie = pair.slice(eq + 1).trim();
    }
  }

  #classify(e: unknown): LifeboatError {
    if (e instanceof LifeboatError) return e;
    const err = e as NodeJS.ErrnoException;
    return new LifeboatError(
      "VSPHERE_UNREACHABLE",
      `cannot reach ${this.origin.host}: ${err.code ?? ""} ${err.message}`.replace(/\s+/g, " "),
      { cause: e },
    );
  }
}

/** An agent that hands a socket to HTTP only after the certificate checks out. */
class PinningAgent extends Agent {
  lastCertificate: Buffer | undefined;

  constructor(
    readonly pin: Thumbprint | undefined,
    readonly extraCa: string | undefined,
  ) {
    super({ keepAlive: true, maxSockets: 8, maxCachedSessions: 0 });
  }

  override createConnection(
    options: RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = options.hostname ?? options.host ?? "localhost";
    const tlsOptions: ConnectionOptions = {
      host,
      port: Number(options.port ?? 443),
      rejectUnauthorized: false,
      ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
      ...(this.extraCa === undefined ? {} : { ca: this.extraCa }),
    };
    const socket: TLSSocket = connect(tlsOptions);
    const done = (err: Error | null): void => {
      socket.removeListener("error", done);
      if (err !== null) socket.destroy();
      callback?.(err, socket);
    };
    socket.once("error", done);
    socket.once("secureConnect", () => {
      const der = socket.getPeerCertificate(false).raw as Buffer | undefined;
      if (der === undefined) {
        done(new LifeboatError("VSPHERE_TLS_UNTRUSTED", `${host} presented no certificate`));
        return;
      }
      this.lastCertificate = der;
      if (this.pin !== undefined) {
        done(
          matchesThumbprint(der, this.pin)
            ? null
            : new LifeboatError(
                "VSPHERE_TLS_UNTRUSTED",
                `the certificate of ${host} does not have the pinned thumbprint; it has ${describeCertificate(der)}`,
              ),
        );
        return;
      }
      const identity = checkServerIdentity(host, socket.getPeerCertificate(false));
      const problem = !socket.authorized ? String(socket.authorizationError) : identity?.message;
      done(
        problem === undefined
          ? null
          : new LifeboatError(
              "VSPHERE_TLS_UNTRUSTED",
              `the certificate of ${host} is not trusted (${problem}); it has ${describeCertificate(der)}`,
            ),
      );
    });
    return undefined;
  }
}
