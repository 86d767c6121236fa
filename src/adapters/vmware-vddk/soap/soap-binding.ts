/**
 * The `soap` package bound to Lifeboat's WSDL subset: it turns arguments into request envelopes in
 * the documented element order (with xsi:type where a subtype is sent) and sets the SOAPAction
 * header. The HTTP exchange itself goes through our HttpsTransport (pinning, size and time caps),
 * and replies are read by our namespace-aware reader: soap only ever sees an empty envelope back.
 */

import { fileURLToPath } from "node:url";
import { type Client, createClientAsync, type IHttpClient } from "soap";
import { LifeboatError } from "../../../domain/errors.ts";
import type { HttpReply, HttpsTransport } from "./transport.ts";

const WSDL = fileURLToPath(new URL("./vim25-subset.wsdl", import.meta.url));
const EMPTY_REPLY =
  '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>';

/** Where the transport leaves the real reply for the caller of one soap method. */
interface Exchange {
  reply?: HttpReply;
  error?: unknown;
}

type Callback = (err: unknown, res?: unknown, body?: unknown) => void;
type AsyncMethod = (args: unknown, options: { exchange: Exchange }) => Promise<unknown>;

/** soap's pluggable HTTP client interface, served by our transport. */
class TransportHttpClient {
  constructor(readonly transport: HttpsTransport) {}

  request(
    rurl: string,
    data: string,
    callback: Callback,
    headers: Record<string, string>,
    options: { exchange?: Exchange },
  ): void {
    const exchange = options.exchange;
    if (exchange === undefined) {
      callback(new LifeboatError("INTERNAL", "soap request without an exchange slot"));
      return;
    }
    const path = new URL(rurl).pathname;
    this.transport.send("POST", path, data, headers).then(
      (reply) => {
        exchange.reply = reply;
        callback(null, { status: 200, headers: {}, data: EMPTY_REPLY }, EMPTY_REPLY);
      },
      (e: unknown) => {
        exchange.error = e;
        callback(e);
      },
    );
  }
}

export class SoapBinding {
  private constructor(
    readonly client: Client,
    readonly transport: HttpsTransport,
  ) {}

  static async create(transport: HttpsTransport, sdkPath: string): Promise<SoapBinding> {
    const client = await createClientAsync(WSDL, {
      httpClient: new TransportHttpClient(transport) as unknown as IHttpClient,
      endpoint: new URL(sdkPath, transport.origin).href,
      disableCache: true,
    });
    return new SoapBinding(client, transport);
  }

  setVersion(version: string): void {
    this.client.setSOAPAction(`urn:vim25/${version}`);
  }

  /** Sends one operation and returns the raw HTTP reply (status and body, fault or not). */
  async call(operation: string, args: Record<string, unknown>): Promise<HttpReply> {
    const method = (this.client as unknown as Record<string, AsyncMethod | undefined>)[`${operation}Async`];
    if (method === undefined) throw new LifeboatError("INTERNAL", `${operation} is not in the WSDL subset`);
    const exchange: Exchange = {};
    try {
      await method.call(this.client, args, { exchange });
    } catch (e) {
      throw exchange.error ?? e;
    } finally {
      // The Login envelope carries the password: keep no copy of it around.
      (this.client as { lastRequest?: string; lastMessage?: string }).lastRequest = undefined;
      (this.client as { lastRequest?: string; lastMessage?: string }).lastMessage = undefined;
    }
    if (exchange.reply === undefined) throw new LifeboatError("INTERNAL", `${operation}: no reply recorded`);
    return exchange.reply;
  }
}

/** A MoRef argument as soap serialises it: `<_this type="VirtualMachine">vm-1</_this>`. */
export function moArg(ref: { type: string; value: string }): {
  attributes: { type: string };
  $value: string;
} {
  return { attributes: { type: ref.type }, $value: ref.value };
}

/** A value sent as a subtype of its declared type (`xsi:type="vim25:VirtualMachineWindowsQuiesceSpec"`). */
export function subtype(type: string): { xsi_type: { type: string; xmlns: string } } {
  return { xsi_type: { type, xmlns: "urn:vim25" } };
}
