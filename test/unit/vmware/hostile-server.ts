/** A scripted HTTPS "vCenter" for hostile-reply tests: each operation answers what the test says. */

import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { FIXTURES, fixture } from "./fixtures.ts";

export interface Scripted {
  readonly status?: number;
  readonly body: string | Buffer;
  readonly delayMs?: number;
  readonly headers?: Record<string, string>;
}

export type Script = Record<string, Scripted | ((request: string) => Scripted)>;

/** The test certificate's SHA-1 thumbprint, as vSphere shows thumbprints. */
export function testThumbprint(): string {
  return new X509Certificate(TLS.cert).fingerprint;
}

export const TLS = {
  key: readFileSync(`${FIXTURES}tls/sim-vcenter.key`),
  cert: readFileSync(`${FIXTURES}tls/sim-vcenter.crt`),
};

/** Replies that let a client log in (vCenter 6.7 as recorded). */
export const LOGIN_SCRIPT: Script = {
  "vimServiceVersions.xml": { body: fixture("xml/vimServiceVersions-response-2.xml") },
  RetrieveServiceContent: { body: fixture("xml/RetrieveServiceContent-response-3.xml") },
  Login: {
    body: fixture("xml/Login-response-2.xml"),
    headers: {
      "Set-Cookie":
        'vmware_soap_session="0123456789abcdef0123456789abcdef01234567"; Path=/; HttpOnly; Secure;',
    },
  },
  Logout: { body: fixture("xml/Logout-response-1.xml") },
};

export interface HostileServer {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startHostileServer(script: Script): Promise<HostileServer> {
  const requests: string[] = [];
  const server: Server = createServer(TLS, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push(`${req.headers.cookie ?? ""}\n${body}`);
      const op =
        req.method === "GET"
          ? ((req.url ?? "").split("/").pop() ?? "")
          : (/<(?:[\w-]+:)?(\w+)/.exec(body.slice(body.indexOf("Body>") + 5))?.[1] ?? "");
      const entry = script[op];
      const answer = typeof entry === "function" ? entry(body) : entry;
      if (answer === undefined) {
        res.writeHead(404).end();
        return;
      }
      setTimeout(() => {
        res.writeHead(answer.status ?? 200, { "Content-Type": "text/xml; charset=utf-8", ...answer.headers });
        res.end(answer.body);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/sdk`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function envelope(inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;
}

export function fault(type: string, text: string, fields = ""): Scripted {
  return {
    status: 500,
    body: envelope(
      `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${text}</faultstring><detail><${type}Fault xmlns="urn:vim25" xsi:type="${type}">${fields}</${type}Fault></detail></soapenv:Fault>`,
    ),
  };
}
