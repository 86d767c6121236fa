/**
 * The simulated vCenter over HTTPS: `POST /sdk` (SOAP, any envelope prefix, methods matched by
 * namespace URI and local name), `GET /sdk/vimServiceVersions.xml`, and datastore file access
 * (`GET /folder/<path>?dcPath=…&dsName=…`, for vss-manifest.zip). Sessions are cookies quoted the
 * way vCenter quotes them; a call without a live session gets NotAuthenticated.
 */

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { parseXml, SOAPENV_NS, VIM25_NS, type XmlElement } from "../../vmware-vddk/soap/xml.ts";
import { continueRetrieve, retrievePropertiesEx, type ViewStore } from "./sim-properties.ts";
import {
  createContainerView,
  createSnapshot,
  findByInventoryPath,
  findByUuid,
  hasPrivilegeOnEntity,
  type OperationContext,
  queryChangedDiskAreas,
  reconfigVm,
  removeSnapshot,
  text,
  versionSupported,
} from "./sim-operations.ts";
import { SimFault } from "./sim-tasks.ts";
import { DATACENTER, type SimVcenter } from "./sim-vcenter.ts";
import { el, mo, VimWriter } from "./vim-writer.ts";

export interface SimServerOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** Prefix bound to XMLSchema-instance in replies ("xsi" like vCenter, "XMLSchema-instance" like vcsim). */
  readonly xsiPrefix?: string;
}

interface Session {
  readonly key: string;
  readonly epoch: number;
}

const NO_SESSION = new Set(["RetrieveServiceContent", "Login"]);

export class SimVsphereServer {
  readonly #sessions = new Map<string, Session>();
  readonly #store: ViewStore = { views: new Map(), tasks: new Map(), pages: new Map() };
  #server: Server | undefined;
  url = "";

  constructor(
    readonly world: SimVcenter,
    readonly options: SimServerOptions,
  ) {}

  async start(): Promise<string> {
    const server = createServer({ key: this.options.key, cert: this.options.cert }, (req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        res.writeHead(500).end(String(e));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/sdk`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://localhost");
    if (req.method === "GET" && url.pathname === "/sdk/vimServiceVersions.xml") {
      res.writeHead(200, { "Content-Type": "text/xml" }).end(this.#versions());
      return;
    }
    if (req.method === "GET" && url.pathname.startsWith("/folder/")) {
      await this.#datastoreFile(req, res, url);
      return;
    }
    if (req.method !== "POST" || url.pathname !== "/sdk") {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const version = /urn:vim25\/([\w.]+)/.exec(String(req.headers.soapaction ?? ""))?.[1] ?? "4.0";
    const w = new VimWriter(version, this.options.xsiPrefix);
    let operation = "";
    try {
      const body = parseXml(Buffer.concat(chunks).toString("utf8"))
        .all("Body", SOAPENV_NS)[0]
        ?.children.find((c) => c.uri === VIM25_NS);
      if (body === undefined)
        throw new SimFault("InvalidRequest", "The request has no vim25 method in its body");
      operation = body.local;
      this.world.count(operation);
      if (!versionSupported(this.world, version))
        throw new SimFault("InvalidRequest", `Unsupported version URI "urn:vim25/${version}"`);
      const session = this.#session(req);
      if (session === undefined && !NO_SESSION.has(operation)) {
        throw new SimFault(
          "NotAuthenticated",
          "The session is not authenticated.",
          `<object type="Folder">group-d1</object><privilegeId>System.View</privilegeId>`,
        );
      }
      const injected = this.world.takeFault(operation);
      if (injected !== undefined) throw new SimFault(injected.type, injected.text, injected.fields);
      const self = body.first("_this");
      const ctx: OperationContext = {
        world: this.world,
        store: this.#store,
        w,
        request: body,
        self: { type: self?.attribute("type") ?? "", value: self?.text ?? "" },
        sessionKey: session?.key ?? "",
      };
      const headers: Record<string, string> = { "Content-Type": "text/xml; charset=utf-8" };
      const inner = this.#dispatch(operation, ctx, headers);
      res.writeHead(200, headers).end(w.response(operation, inner));
    } catch (e) {
      if (!(e instanceof SimFault)) throw e;
      res.writeHead(500, { "Content-Type": "text/xml; charset=utf-8" }).end(w.fault(e));
    }
  }

  #dispatch(operation: string, ctx: OperationContext, headers: Record<string, string>): string {
    switch (operation) {
      case "RetrieveServiceContent":
        return this.#serviceContent();
      case "Login":
        return this.#login(ctx.request, headers);
      case "Logout":
        return "";
      case "RetrievePropertiesEx":
        return retrievePropertiesEx(this.world, this.#store, ctx.w, ctx.request);
      case "ContinueRetrievePropertiesEx":
        return continueRetrieve(this.#store, text(ctx.request, "token") ?? "");
      case "FindByInventoryPath":
        return findByInventoryPath(ctx);
      case "FindByUuid":
        return findByUuid(ctx);
      case "CreateContainerView":
        return createContainerView(ctx);
      case "DestroyView":
        this.#store.views.delete(ctx.self.value);
        return "";
      case "ReconfigVM_Task":
        return reconfigVm(ctx);
      case "CreateSnapshot_Task":
        return createSnapshot(ctx, false);
      case "CreateSnapshotEx_Task":
        if (!ctx.w.atLeast("6.5"))
          throw new SimFault(
            "MethodNotFound",
            "Method CreateSnapshotEx_Task is not available in this API version",
          );
        return createSnapshot(ctx, true);
      case "RemoveSnapshot_Task":
        return removeSnapshot(ctx);
      case "QueryChangedDiskAreas":
        return queryChangedDiskAreas(ctx);
      case "HasPrivilegeOnEntity":
        return hasPrivilegeOnEntity(ctx);
      default:
        throw new SimFault("MethodNotFound", `Method ${operation} is not implemented by the simulator`);
    }
  }

  #session(req: IncomingMessage): Session | undefined {
    const cookie = /vmware_soap_session=("?[0-9a-f]+"?)/.exec(String(req.headers.cookie ?? ""))?.[1];
    const session = cookie === undefined ? undefined : this.#sessions.get(cookie);
    return session !== undefined && session.epoch === this.world.sessionEpoch ? session : undefined;
  }

  #login(request: XmlElement, headers: Record<string, string>): string {
    const user = text(request, "userName");
    const ok = user === this.world.options.user && text(request, "password") === this.world.options.password;
    if (!ok)
      throw new SimFault("InvalidLogin", "Cannot complete login due to an incorrect user name or password.");
    const cookie = `"${randomBytes(20).toString("hex")}"`;
    const key = this.world.uuid("vm");
    this.#sessions.set(cookie, { key, epoch: this.world.sessionEpoch });
    headers["Set-Cookie"] = `vmware_soap_session=${cookie}; Path=/; HttpOnly; Secure;`;
    return `<returnval>${el("key", key)}${el("userName", user ?? "")}${el("fullName", user ?? "")}<loginTime>${new Date().toISOString()}</loginTime><lastActiveTime>${new Date().toISOString()}</lastActiveTime><locale>en</locale><messageLocale>en</messageLocale><extensionSession>false</extensionSession></returnval>`;
  }

  #serviceContent(): string {
    const managers = [
      ["rootFolder", "Folder", "group-d1"],
      ["propertyCollector", "PropertyCollector", "propertyCollector"],
      ["viewManager", "ViewManager", "ViewManager"],
      ["sessionManager", "SessionManager", "SessionManager"],
      ["authorizationManager", "AuthorizationManager", "AuthorizationManager"],
      ["searchIndex", "SearchIndex", "SearchIndex"],
    ] as const;
    const v = this.world.apiVersion;
    return `<returnval>${managers.map(([e, t, id]) => mo(e, { type: t, value: id })).join("")}<about><name>VMware vCenter Server</name><fullName>VMware vCenter Server ${v} build-0 (Lifeboat simulator)</fullName><vendor>VMware, Inc.</vendor><version>${v}</version><build>0</build><osType>linux-x64</osType><productLineId>vpx</productLineId><apiType>VirtualCenter</apiType><apiVersion>${v}</apiVersion><instanceUuid>${this.world.uuid("vm")}</instanceUuid></about></returnval>`;
  }

  #versions(): string {
    const prior = [
      "8.0.2.0",
      "8.0.1.0",
      "7.0.3.0",
      "7.0.2.0",
      "6.7.3",
      "6.7",
      "6.5",
      "6.0",
      "5.5",
      "5.1",
      "5.0",
      "4.1",
      "4.0",
    ].filter((p) => versionSupported(this.world, p) && p !== this.world.apiVersion);
    return `<?xml version="1.0" encoding="UTF-8" ?><namespaces version="1.0"><namespace><name>urn:vim25</name><version>${this.world.apiVersion}</version><priorVersions>${prior.map((p) => `<version>${p}</version>`).join("")}</priorVersions></namespace></namespaces>`;
  }

  async #datastoreFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (this.#session(req) === undefined) {
      res.writeHead(401).end();
      return;
    }
    const relative = normalize(decodeURIComponent(url.pathname.slice("/folder/".length)));
    const ds = url.searchParams.get("dsName") ?? "";
    if (relative.startsWith("..") || ds.includes("/") || url.searchParams.get("dcPath") !== DATACENTER) {
      res.writeHead(404).end();
      return;
    }
    try {
      res
        .writeHead(200, { "Content-Type": "application/octet-stream" })
        .end(await readFile(join(this.world.options.root, ds, relative)));
    } catch {
      res.writeHead(404).end();
    }
  }
}
