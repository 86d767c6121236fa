/**
 * A deliberately broken S3 endpoint on loopback, for the failures no real server here can be made to
 * show: ignoring `If-None-Match: *`, throttling, 409 on racing conditional writes, bodies cut off
 * mid-transfer, answers that never come. It speaks just enough path-style S3 (PUT, GET, HEAD, DELETE
 * of one object) and checks no signatures. Everything else is tested against Ceph RGW.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Answers a request itself, or returns false to let the server behave normally. */
export type Interceptor = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

export class FakeS3Server {
  /** Objects by `bucket/key`. */
  readonly objects = new Map<string, Buffer>();
  /** Requests seen, as `METHOD /path`. */
  readonly requests: string[] = [];
  interceptor: Interceptor | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.#handle(req, res, Buffer.concat(chunks)));
    });
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("fake S3 has no port");
    this.#port = address.port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname.slice(1));
    this.requests.push(`${req.method} /${path}`);
    if (this.interceptor?.(req, res, body) === true) return;
    const stored = this.objects.get(path);
    switch (req.method) {
      case "PUT":
        // The defect under test: the object is replaced whatever If-None-Match says.
        this.objects.set(path, body);
        res.writeHead(200, { ETag: '"0"' }).end();
        return;
      case "GET":
      case "HEAD":
        if (stored === undefined) {
          sendError(res, 404, "NoSuchKey");
          return;
        }
        res.writeHead(200, { "Content-Length": stored.length, ETag: '"0"' });
        res.end(req.method === "GET" ? stored : undefined);
        return;
      case "DELETE":
        this.objects.delete(path);
        res.writeHead(204).end();
        return;
      default:
        sendError(res, 501, "NotImplemented");
    }
  }
}

/** An S3 error answer: status and an XML body with the code. */
export function sendError(res: ServerResponse, status: number, code: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code} (fake)</Message></Error>`;
  res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(xml) });
  res.end(xml);
}
