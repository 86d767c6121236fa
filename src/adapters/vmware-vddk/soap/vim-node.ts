/**
 * Typed, path-aware reads of vim25 data. Every accessor checks what the WSDL promises (a long is
 * decimal digits, a boolean is true/false/1/0, a MoRef has a type) and names the exact property
 * path when a reply breaks the promise, so a hostile or truncated reply is a coded error, never a
 * NaN or an undefined deep inside the engine.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import { VIM25_NS, XSD_NS, type XmlElement } from "./xml.ts";

/** A managed object reference: `<obj type="VirtualMachine">vm-19</obj>`. */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

export function moRefKey(ref: MoRef): string {
  return `${ref.type}:${ref.value}`;
}

export function replyError(message: string, cause?: unknown): LifeboatError {
  return new LifeboatError("VSPHERE_REPLY_INVALID", message, cause === undefined ? {} : { cause });
}

const INTEGER = /^[-+]?\d{1,16}$/;

export class VimNode {
  constructor(
    readonly el: XmlElement,
    /** Where this node sits in the reply, for error messages (`config.hardware.device[3]`). */
    readonly path: string,
  ) {}

  /** The concrete vim25 type named by xsi:type, or undefined when the declared type applies. */
  xsiType(): string | undefined {
    const t = this.el.xsiType();
    if (t === undefined) return undefined;
    if (t.uri !== VIM25_NS && t.uri !== XSD_NS && t.uri !== "") {
      throw replyError(`${this.path} has xsi:type in an unknown namespace ${t.uri}`);
    }
    return t.local;
  }

  /** True when xsi:type names this type or, for an absent xsi:type, when `declared` is it. */
  is(type: string, declared?: string): boolean {
    return (this.xsiType() ?? declared) === type;
  }

  child(name: string): VimNode {
    const node = this.opt(name);
    if (node === undefined) throw replyError(`${this.path} has no ${name}`);
    return node;
  }

  opt(name: string): VimNode | undefined {
    const found = this.el.all(name);
    if (found.length > 1) throw replyError(`${this.path}.${name} appears ${found.length} times`);
    const el = found[0];
    return el === undefined ? undefined : new VimNode(el, `${this.path}.${name}`);
  }

  many(name: string): VimNode[] {
    return this.el.all(name).map((el, i) => new VimNode(el, `${this.path}.${name}[${i}]`));
  }

  /** Items of an `ArrayOfXxx` value (children in the vim25 namespace, whatever their name). */
  items(): VimNode[] {
    return this.el.children
      .filter((c) => c.uri === VIM25_NS)
      .map((el, i) => new VimNode(el, `${this.path}[${i}]`));
  }

  string(): string {
    if (this.el.children.length > 0) throw replyError(`${this.path} should be text, not structure`);
    return this.el.text;
  }

  int(): number {
    const n = this.long();
    if (n < -(2 ** 31) || n >= 2 ** 31) throw replyError(`${this.path} is ${n}, outside a 32-bit int`);
    return n;
  }

  long(): number {
    const text = this.string().trim();
    if (!INTEGER.test(text)) throw replyError(`${this.path} is ${quote(text)}, not an integer`);
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw replyError(`${this.path} is ${text}, beyond a safe integer`);
    return n;
  }

  bool(): boolean {
    const text = this.string().trim();
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    throw replyError(`${this.path} is ${quote(text)}, not a boolean`);
  }

  moref(expectedType?: string): MoRef {
    const type = this.el.attribute("type");
    const value = this.string().trim();
    if (type === undefined || type === "") throw replyError(`${this.path} is a reference without a type`);
    if (value === "") throw replyError(`${this.path} is an empty reference`);
    if (expectedType !== undefined && type !== expectedType) {
      throw replyError(`${this.path} refers to a ${type}, expected a ${expectedType}`);
    }
    return { type, value };
  }

  str(name: string): string {
    return this.child(name).string();
  }
  optStr(name: string): string | undefined {
    return this.opt(name)?.string();
  }
  optInt(name: string): number | undefined {
    return this.opt(name)?.int();
  }
  optLong(name: string): number | undefined {
    return this.opt(name)?.long();
  }
  optBool(name: string): boolean | undefined {
    return this.opt(name)?.bool();
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
