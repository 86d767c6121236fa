/**
 * A strict, namespace-aware XML reader for SOAP replies. Names are resolved through the prefixes in
 * scope (vcsim writes `XMLSchema-instance:type`, vCenter `xsi:type`; both must mean the same), a
 * DOCTYPE is refused outright (no entity expansion, no external entities), and depth is bounded so
 * a hostile reply cannot exhaust the stack. Reply size is bounded by the transport, before this.
 */

export const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
export const XSD_NS = "http://www.w3.org/2001/XMLSchema";
export const SOAPENV_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const VIM25_NS = "urn:vim25";
const XML_NS = "http://www.w3.org/XML/1998/namespace";

export interface QName {
  readonly uri: string;
  readonly local: string;
}

export interface XmlAttribute extends QName {
  readonly value: string;
}

export class XmlElement implements QName {
  readonly children: XmlElement[] = [];
  text = "";

  constructor(
    readonly uri: string,
    readonly local: string,
    readonly attributes: readonly XmlAttribute[],
    /** Prefix → namespace URI in scope here ("" is the default namespace). */
    readonly scope: ReadonlyMap<string, string>,
  ) {}

  attribute(local: string, uri = ""): string | undefined {
    return this.attributes.find((a) => a.local === local && a.uri === uri)?.value;
  }

  /** Resolves a QName-valued attribute or text (such as `xsi:type="xsd:string"`) through the scope here. */
  resolve(qname: string): QName | undefined {
    const colon = qname.indexOf(":");
    const prefix = colon < 0 ? "" : qname.slice(0, colon);
    const local = colon < 0 ? qname : qname.slice(colon + 1);
    const uri = this.scope.get(prefix);
    if (uri === undefined) return prefix === "" ? { uri: "", local } : undefined;
    return { uri, local };
  }

  /** The element's `xsi:type`, resolved, or undefined when it has none. */
  xsiType(): QName | undefined {
    const raw = this.attribute("type", XSI_NS);
    return raw === undefined ? undefined : this.resolve(raw.trim());
  }

  /** Direct children with this local name (and namespace). */
  all(local: string, uri = VIM25_NS): XmlElement[] {
    return this.children.filter((c) => c.local === local && c.uri === uri);
  }

  first(local: string, uri = VIM25_NS): XmlElement | undefined {
    return this.children.find((c) => c.local === local && c.uri === uri);
  }
}

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at character ${position}`);
    this.name = "XmlSyntaxError";
  }
}

export interface XmlLimits {
  readonly maxDepth: number;
  readonly maxElements: number;
}

const DEFAULT_LIMITS: XmlLimits = { maxDepth: 128, maxElements: 4_000_000 };
const NAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?$/;
const BASE_SCOPE: ReadonlyMap<string, string> = new Map([["xml", XML_NS]]);

/** Parses a whole document and returns its root element. */
export function parseXml(text: string, limits: XmlLimits = DEFAULT_LIMITS): XmlElement {
  return new Parser(text, limits).document();
}

class Parser {
  #pos = 0;
  #elements = 0;

  constructor(
    readonly src: string,
    readonly limits: XmlLimits,
  ) {}

  document(): XmlElement {
    if (this.src.charCodeAt(0) === 0xfeff) this.#pos = 1;
    this.#misc();
    if (this.src.startsWith("<!DOCTYPE", this.#pos) || this.src.startsWith("<!doctype", this.#pos)) {
      this.#fail("a DOCTYPE is not allowed in a SOAP message");
    }
    if (this.src[this.#pos] !== "<") this.#fail("expected the root element");
    const root = this.#element(BASE_SCOPE, 1);
    this.#misc();
    if (this.#pos < this.src.length) this.#fail("content after the root element");
    return root;
  }

  /** Skips whitespace, comments and processing instructions (including the XML declaration). */
  #misc(): void {
    for (;;) {
      this.#skipSpace();
      if (this.src.startsWith("<?", this.#pos)) this.#skipPast("?>");
      else if (this.src.startsWith("<!--", this.#pos)) this.#skipPast("-->");
      else return;
    }
  }

  #element(parentScope: ReadonlyMap<string, string>, depth: number): XmlElement {
    if (depth > this.limits.maxDepth) this.#fail(`elements nested deeper than ${this.limits.maxDepth}`);
    if (++this.#elements > this.limits.maxElements)
      this.#fail(`more than ${this.limits.maxElements} elements`);
    this.#pos++; // '<'
    const qname = this.#name();
    const raw: { name: string; value: string }[] = [];
    let selfClosing = false;
    for (;;) {
      const hadSpace = this.#skipSpace();
      const c = this.src[this.#pos];
      if (c === undefined) this.#fail(`unterminated start tag <${qname}>`);
      if (c === ">") {
        this.#pos++;
        break;
      }
      if (c === "/" && this.src[this.#pos + 1] === ">") {
        this.#pos += 2;
        selfClosing = true;
        break;
      }
      if (!hadSpace) this.#fail(`expected whitespace before an attribute in <${qname}>`);
      const name = this.#name();
      this.#skipSpace();
      if (this.src[this.#pos] !== "=") this.#fail(`attribute ${name} has no value`);
      this.#pos++;
      this.#skipSpace();
      const quote = this.src[this.#pos];
      if (quote !== '"' && quote !== "'") this.#fail(`attribute ${name} value is not quoted`);
      const end = this.src.indexOf(quote, this.#pos + 1);
      if (end < 0) this.#fail(`unterminated value of attribute ${name}`);
      const value = this.#decode(this.src.slice(this.#pos + 1, end), this.#pos + 1);
      if (value.includes("<")) this.#fail(`"<" in the value of attribute ${name}`);
      this.#pos = end + 1;
      if (raw.some((a) => a.name === name)) this.#fail(`duplicate attribute ${name}`);
      raw.push({ name, value });
    }

    let scope = parentScope;
    for (const a of raw) {
      if (a.name === "xmlns" || a.name.startsWith("xmlns:")) {
        if (scope === parentScope) scope = new Map(parentScope);
        (scope as Map<string, string>).set(a.name === "xmlns" ? "" : a.name.slice(6), a.value);
      }
    }
    const attributes: XmlAttribute[] = [];
    for (const a of raw) {
      if (a.name === "xmlns" || a.name.startsWith("xmlns:")) continue;
      const colon = a.name.indexOf(":");
      if (colon < 0) {
        attributes.push({ uri: "", local: a.name, value: a.value });
      } else {
        const uri = scope.get(a.name.slice(0, colon));
        if (uri === undefined) this.#fail(`undeclared prefix in attribute ${a.name}`);
        attributes.push({ uri, local: a.name.slice(colon + 1), value: a.value });
      }
    }
    const colon = qname.indexOf(":");
    const prefix = colon < 0 ? "" : qname.slice(0, colon);
    const uri = scope.get(prefix);
    if (uri === undefined && prefix !== "") this.#fail(`undeclared prefix in element <${qname}>`);
    const element = new XmlElement(uri ?? "", colon < 0 ? qname : qname.slice(colon + 1), attributes, scope);
    if (selfClosing) return element;

    const text: string[] = [];
    for (;;) {
      const lt = this.src.indexOf("<", this.#pos);
      if (lt < 0) this.#fail(`element <${qname}> is not closed`);
      if (lt > this.#pos) text.push(this.#decode(this.src.slice(this.#pos, lt), this.#pos));
      this.#pos = lt;
      if (this.src.startsWith("</", lt)) {
        this.#pos += 2;
        const closing = this.#name();
        if (closing !== qname) this.#fail(`</${closing}> closes <${qname}>`);
        this.#skipSpace();
        if (this.src[this.#pos] !== ">") this.#fail(`malformed end tag </${closing}>`);
        this.#pos++;
        element.text = text.join("");
        return element;
      }
      if (this.src.startsWith("<!--", lt)) this.#skipPast("-->");
      else if (this.src.startsWith("<![CDATA[", lt)) {
        const end = this.src.indexOf("]]>", lt + 9);
        if (end < 0) this.#fail("unterminated CDATA section");
        text.push(this.src.slice(lt + 9, end));
        this.#pos = end + 3;
      } else if (this.src.startsWith("<?", lt)) this.#skipPast("?>");
      else if (this.src.startsWith("<!", lt)) this.#fail("markup declarations are not allowed");
      else element.children.push(this.#element(scope, depth + 1));
    }
  }

  #name(): string {
    const start = this.#pos;
    while (this.#pos < this.src.length && !/[\s/>=]/.test(this.src[this.#pos] as string)) this.#pos++;
    const name = this.src.slice(start, this.#pos);
    if (!NAME.test(name)) this.#fail(`bad name ${JSON.stringify(name.slice(0, 40))}`, start);
    return name;
  }

  #skipSpace(): boolean {
    const start = this.#pos;
    while (this.#pos < this.src.length && /\s/.test(this.src[this.#pos] as string)) this.#pos++;
    return this.#pos > start;
  }

  #skipPast(terminator: string): void {
    const end = this.src.indexOf(terminator, this.#pos);
    if (end < 0) this.#fail(`missing ${terminator}`);
    this.#pos = end + terminator.length;
  }

  #decode(raw: string, at: number): string {
    if (!raw.includes("&")) return raw;
    return raw.replace(/&([^;&\s]{1,10});|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) this.#fail("bare & in text", at);
      const named = ENTITIES[ref];
      if (named !== undefined) return named;
      const code = ref.startsWith("#x")
        ? parseInt(ref.slice(2), 16)
        : ref.startsWith("#")
          ? Number(ref.slice(1))
          : NaN;
      if (!Number.isInteger(code) || code < 1 || code > 0x10ffff) this.#fail(`unknown entity ${whole}`, at);
      return String.fromCodePoint(code);
    });
  }

  #fail(message: string, at = this.#pos): never {
    throw new XmlSyntaxError(message, at);
  }
}

const ENTITIES: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Escapes text for an XML element body or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
  );
}
