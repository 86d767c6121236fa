/**
 * A vim25 session: version negotiation, login, calls, and logout. A session that expired (vCenter
 * drops idle sessions after ~30 min) is renewed once per call, whether the server says so with a
 * NotAuthenticated fault or with a 200 whose properties all sit in missingSet. Credentials live only
 * in this object's memory: never in logs, errors or the request copies soap keeps.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import { type Log, silentLog } from "../../../ports/log.ts";
import { isVimFault, readReply } from "./envelope.ts";
import { moArg, SoapBinding } from "./soap-binding.ts";
import { parseThumbprint } from "./thumbprint.ts";
import { HttpsTransport } from "./transport.ts";
import { chooseVersion, listedVersions, versionFromApiVersion } from "./versions.ts";
import { type MoRef, VimNode } from "./vim-node.ts";

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

export interface VimConnectOptions {
  readonly credentials: Credentials;
  /** SHA-1 or SHA-256 thumbprint to pin; without it the certificate must chain to a trusted CA. */
  readonly thumbprint?: string;
  readonly ca?: string;
  readonly timeoutMs?: number;
  readonly maxReplyBytes?: number;
  readonly log?: Log;
}

export interface AboutInfo {
  readonly fullName: string;
  readonly apiType: string;
  readonly apiVersion: string;
  readonly version: string;
  readonly instanceUuid?: string;
}

export interface ServiceContent {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly sessionManager: MoRef;
  readonly searchIndex: MoRef;
  readonly viewManager?: MoRef;
  readonly authorizationManager?: MoRef;
  readonly about: AboutInfo;
}

const SERVICE_INSTANCE: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };
const NO_RENEW = new Set(["Login", "Logout", "RetrieveServiceContent"]);

export class VimClient {
  #sessionKey = "";
  #closed = false;

  private constructor(
    readonly url: URL,
    readonly transport: HttpsTransport,
    readonly binding: SoapBinding,
    readonly version: string,
    readonly content: ServiceContent,
    readonly credentials: Credentials,
    readonly log: Log,
  ) {}

  /** Negotiates the API version, reads the service content and logs in. */
  static async connect(url: string, options: VimConnectOptions): Promise<VimClient> {
    const endpoint = sdkUrl(url);
    const log = options.log ?? silentLog;
    const transport = new HttpsTransport(endpoint, {
      ...(options.thumbprint === undefined ? {} : { thumbprint: parseThumbprint(options.thumbprint) }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.maxReplyBytes === undefined ? {} : { maxReplyBytes: options.maxReplyBytes }),
    });
    try {
      const binding = await SoapBinding.create(transport, endpoint.pathname);
      let version = await negotiate(transport, endpoint.pathname, log);
      binding.setVersion(version ?? "4.0");
      const content = parseServiceContent(
        await callOnce(binding, "RetrieveServiceContent", { _this: moArg(SERVICE_INSTANCE) }),
      );
      if (version === undefined) {
        version = versionFromApiVersion(content.about.apiVersion);
        binding.setVersion(version);
      }
      const client = new VimClient(endpoint, transport, binding, version, content, options.credentials, log);
      await client.login();
      log.info({ server: endpoint.host, version, product: content.about.fullName }, "vSphere session open");
      return client;
    } catch (e) {
      transport.close();
      throw e;
    }
  }

  get sessionKey(): string {
    return this.#sessionKey;
  }

  /** Calls an operation on `_this` and returns its response element. */
  async call(operation: string, _this: MoRef, args: Record<string, unknown> = {}): Promise<VimNode> {
    if (this.#closed)
      throw new LifeboatError("INTERNAL", `${operation} after the vSphere session was closed`);
    const request = { _this: moArg(_this), ...args };
    try {
      return await callOnce(this.binding, operation, request);
    } catch (e) {
      if (!isVimFault(e, "NotAuthenticated") || NO_RENEW.has(operation)) throw e;
      this.log.info({ operation }, "vSphere session expired; logging in again");
      await this.login();
      return callOnce(this.binding, operation, request);
    }
  }

  /** Logs in again (after the server dropped the session). */
  async login(): Promise<void> {
    this.transport.forgetSession();
    const reply = await callOnce(this.binding, "Login", {
      _this: moArg(this.content.sessionManager),
      userName: this.credentials.user,
      password: this.credentials.password,
    });
    const session = reply.child("returnval");
    this.#sessionKey = session.str("key");
  }

  /** Logs out and closes the connections; safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await callOnce(this.binding, "Logout", { _this: moArg(this.content.sessionManager) });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "vSphere logout failed");
    } finally {
      this.transport.close();
    }
  }
}

async function callOnce(
  binding: SoapBinding,
  operation: string,
  args: Record<string, unknown>,
): Promise<VimNode> {
  const reply = await binding.call(operation, args);
  return new VimNode(readReply(reply.body.toString("utf8"), operation, reply.status), operation);
}

/** The /sdk endpoint for a vCenter/ESXi address given as `https://host[:port][/sdk]` or a bare host. */
export function sdkUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
  } catch (e) {
    throw new LifeboatError("CONFIG_INVALID", `${JSON.stringify(text)} is not a vCenter/ESXi URL`, {
      cause: e,
      remedy: "Give the address as https://HOST or https://HOST/sdk.",
    });
  }
  if (url.username !== "" || url.password !== "") {
    throw new LifeboatError("CONFIG_INVALID", "the vCenter URL must not carry credentials", {
      remedy: "Remove user:password@ from the URL; set LIFEBOAT_VSPHERE_USER and LIFEBOAT_VSPHERE_PASSWORD.",
    });
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/sdk";
  return url;
}

/** The version from vimServiceVersions.xml, or undefined when the file cannot be read. */
async function negotiate(transport: HttpsTransport, sdkPath: string, log: Log): Promise<string | undefined> {
  const reply = await transport.send("GET", `${sdkPath.replace(/\/$/, "")}/vimServiceVersions.xml`);
  if (reply.status !== 200) {
    log.warn({ status: reply.status }, "vimServiceVersions.xml unavailable; using the server's apiVersion");
    return undefined;
  }
  return chooseVersion(listedVersions(reply.body.toString("utf8")));
}

export function parseServiceContent(reply: VimNode): ServiceContent {
  const sc = reply.child("returnval");
  const about = sc.child("about");
  const optRef = (name: string): MoRef | undefined => sc.opt(name)?.moref();
  const viewManager = optRef("viewManager");
  const authorizationManager = optRef("authorizationManager");
  const instanceUuid = about.optStr("instanceUuid");
  return {
    rootFolder: sc.child("rootFolder").moref(),
    propertyCollector: sc.child("propertyCollector").moref(),
    sessionManager: sc.child("sessionManager").moref(),
    searchIndex: sc.child("searchIndex").moref(),
    ...(viewManager === undefined ? {} : { viewManager }),
    ...(authorizationManager === undefined ? {} : { authorizationManager }),
    about: {
      fullName: about.str("fullName"),
      apiType: about.str("apiType"),
      apiVersion: about.str("apiVersion"),
      version: about.str("version"),
      ...(instanceUuid === undefined ? {} : { instanceUuid }),
    },
  };
}
