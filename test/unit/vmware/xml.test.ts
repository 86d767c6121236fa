import { describe, expect, it } from "vitest";
import { parseXml, VIM25_NS, XmlSyntaxError, XSI_NS } from "../../../src/adapters/vmware-vddk/soap/xml.ts";

describe("the SOAP XML reader", () => {
  it("resolves xsi:type through whatever prefix the server bound to XMLSchema-instance (vcsim's style)", () => {
    const vcsim = parseXml(
      `<r xmlns="urn:vim25" xmlns:XMLSchema-instance="${XSI_NS}"><val XMLSchema-instance:type="VirtualMachineConfigInfo"/></r>`,
    );
    const vcenter = parseXml(
      `<r xmlns="urn:vim25" xmlns:xsi="${XSI_NS}"><val xsi:type="VirtualMachineConfigInfo"/></r>`,
    );
    expect(vcsim.first("val")?.xsiType()).toEqual({ uri: VIM25_NS, local: "VirtualMachineConfigInfo" });
    expect(vcenter.first("val")?.xsiType()).toEqual(vcsim.first("val")?.xsiType());
  });

  it("does not mistake a prefix spelled xsi but bound elsewhere for XMLSchema-instance", () => {
    const doc = parseXml(`<r xmlns="urn:vim25" xmlns:xsi="urn:other"><val xsi:type="Nope"/></r>`);
    expect(doc.first("val")?.xsiType()).toBeUndefined();
  });

  it("scopes namespace declarations to their element", () => {
    const doc = parseXml(`<a xmlns="urn:x"><b xmlns="urn:vim25"><c/></b><c/></a>`);
    expect(doc.children[0]?.children[0]?.uri).toBe(VIM25_NS);
    expect(doc.children[1]?.uri).toBe("urn:x");
  });

  it("decodes entities, character references and CDATA, keeping inner spaces (changeIds have them)", () => {
    const doc = parseXml(`<a>52 2d &amp; &#x41;&#66; <![CDATA[<raw>]]> 7b/3</a>`);
    expect(doc.text).toBe("52 2d & AB <raw> 7b/3");
  });

  it.each([
    ["a DOCTYPE (entity expansion)", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`],
    ["an unknown entity", `<a>&bogus;</a>`],
    ["mismatched tags", `<a><b></a></b>`],
    ["an undeclared prefix", `<p:a/>`],
    ["trailing content", `<a/><b/>`],
    ["an unterminated element", `<a><b>`],
    ["a duplicate attribute", `<a x="1" x="2"/>`],
  ])("refuses %s with a positioned syntax error", (_, text) => {
    expect(() => parseXml(text)).toThrow(XmlSyntaxError);
  });

  it("bounds nesting depth so a hostile reply cannot exhaust the stack", () => {
    const deep = `${"<a>".repeat(5000)}${"</a>".repeat(5000)}`;
    expect(() => parseXml(deep)).toThrow(/deeper than/);
  });
});
