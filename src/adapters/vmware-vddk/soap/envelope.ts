/**
 * SOAP envelopes of vim25 replies: the body's single response element, or a fault turned into a
 * coded error. Method faults come as HTTP 500 with `<detail><XxxFault xsi:type="Xxx">`; dispatch is
 * on the resolved xsi:type, then on the element name without its `Fault` suffix.
 */

import { type ErrorCode, LifeboatError } from "../../../domain/errors.ts";
import { replyError, VimNode } from "./vim-node.ts";
import { parseXml, SOAPENV_NS, type XmlElement, XmlSyntaxError } from "./xml.ts";

/** A vim25 fault, with its concrete type and fields, as a coded error. */
export class VimFaultError extends LifeboatError {
  constructor(
    code: ErrorCode,
    readonly faultType: string,
    readonly faultText: string,
    readonly detail: VimNode | undefined,
    operation: string,
  ) {
    super(code, `${operation}: ${faultType}: ${faultText}`);
  }

  /** A field of the fault detail (`invalidProperty`, `privilegeId`, `file`), if present. */
  field(name: string): string | undefined {
    try {
      return this.detail?.optStr(name);
    } catch {
      return undefined;
    }
  }
}

export function isVimFault(e: unknown, ...types: string[]): e is VimFaultError {
  return e instanceof VimFaultError && (types.length === 0 || types.includes(e.faultType));
}

const FAULT_CODES: Readonly<Record<string, ErrorCode>> = {
  InvalidLogin: "VSPHERE_LOGIN_FAILED",
  NoPermission: "VSPHERE_NO_PERMISSION",
  NotAuthenticated: "VSPHERE_LOGIN_FAILED",
};

/** Parses a reply body; returns the response element or throws the fault / a protocol error. */
export function readReply(body: string, operation: string, status: number): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(body);
  } catch (e) {
    const why = e instanceof XmlSyntaxError ? e.message : String(e);
    throw replyError(`${operation}: HTTP ${status} reply is not XML (${why})`, e);
  }
  const bodyEl = bodyOf(root);
  if (bodyEl === undefined) throw replyError(`${operation}: HTTP ${status} reply has no SOAP body`);
  const elements = bodyEl.children;
  const fault = elements.find((c) => c.uri === SOAPENV_NS && c.local === "Fault");
  if (fault !== undefined) throw faultError(fault, operation);
  if (status !== 200) throw replyError(`${operation}: HTTP ${status} without a SOAP fault`);
  const response = elements[0];
  if (elements.length !== 1 || response === undefined) {
    throw replyError(`${operation}: the SOAP body holds ${elements.length} elements, expected 1`);
  }
  if (response.local !== `${operation}Response`) {
    throw replyError(`${operation}: the reply is <${response.local}>, expected <${operation}Response>`);
  }
  return response;
}

/** The Body of an envelope, or the element itself for a bare body (govmomi's recorded fixtures). */
function bodyOf(root: XmlElement): XmlElement | undefined {
  if (root.uri !== SOAPENV_NS) return undefined;
  if (root.local !== "Envelope") return undefined;
  return root.children.find((c) => c.uri === SOAPENV_NS && c.local === "Body");
}

export function faultError(fault: XmlElement, operation: string): VimFaultError {
  // faultcode/faultstring/detail are unqualified in SOAP 1.1.
  const text = fault.first("faultstring", "")?.text.trim() ?? "";
  const detailEl = fault.first("detail", "")?.children[0];
  const detail = detailEl === undefined ? undefined : new VimNode(detailEl, `${operation} fault`);
  let type: string;
  try {
    type = detail?.xsiType() ?? detailEl?.local.replace(/Fault$/, "") ?? "";
  } catch {
    type = detailEl?.local.replace(/Fault$/, "") ?? "";
  }
  if (type === "") type = fault.first("faultcode", "")?.text.trim() || "UnknownFault";
  return new VimFaultError(
    FAULT_CODES[type] ?? "VSPHERE_FAULT",
    type,
    text || "(no fault text)",
    detail,
    operation,
  );
}
