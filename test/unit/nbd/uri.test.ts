import { describe, expect, it } from "vitest";
import { displayNbdUri, NbdUriError, parseNbdUri } from "../../../src/formats/nbd/uri.ts";

describe("NBD URIs", () => {
  it("reads TCP URIs with and without a port, and percent-encoded export names", () => {
    expect(parseNbdUri("nbd://127.0.0.1:10810/disk0")).toMatchObject({
      endpoint: { transport: "tcp", host: "127.0.0.1", port: 10810 },
      exportName: "disk0",
      tls: false,
    });
    expect(parseNbdUri("nbd://backup-host/")).toMatchObject({ endpoint: { port: 10809 }, exportName: "" });
    expect(parseNbdUri("nbd://h/vm%20disk").exportName).toBe("vm disk");
    expect(parseNbdUri("nbd://[::1]:9000/x").endpoint).toEqual({ transport: "tcp", host: "::1", port: 9000 });
  });

  it("reads unix-socket and TLS URIs with their parameters", () => {
    const unix = parseNbdUri(
      "nbds+unix:///disk?socket=/run/nbd.sock&tls-certificates=/etc/pki/nbd&tls-verify-peer=false",
    );
    expect(unix).toMatchObject({
      endpoint: { transport: "unix", socket: "/run/nbd.sock" },
      exportName: "disk",
      tls: true,
      tlsCertificates: "/etc/pki/nbd",
      tlsVerifyPeer: false,
    });
    expect(parseNbdUri("nbd://h/d?timeout=2.5").timeoutMs).toBe(2500);
  });

  it("keeps the caller's parameters (bitmap, next) and refuses unknown ones so typos never change a job", () => {
    const a = parseNbdUri("nbd://h:1/d?bitmap=b0&next=b1", ["bitmap", "next"]);
    expect(a.params.get("bitmap")).toBe("b0");
    expect(a.params.get("next")).toBe("b1");
    expect(() => parseNbdUri("nbd://h:1/d?bitmpa=b0", ["bitmap", "next"])).toThrow(
      /unknown parameter "bitmpa"/,
    );
    expect(() => parseNbdUri("nbd://h:1/d?bitmap=b0", [])).toThrow(NbdUriError);
  });

  it.each([
    ["http://host/disk", /not an NBD URI/],
    ["nbd://", /no host|not a valid URI/],
    ["nbd://h:70000/d", /port|not a valid URI/],
    ["nbd+unix:///d", /socket=PATH/],
    ["nbd+unix://host/d?socket=/s", /no host/],
    ["nbd://h/d?socket=/s", /socket= belongs/],
    ["nbd://user:pw@h/d", /credentials/],
    ["nbd://h/d?tls-certificates=/x", /nbds:/],
    ["nbds://h/d?tls-verify-peer=maybe", /true or false/],
    ["nbd://h/d?timeout=0", /timeout/],
    ["nbd://h/d?timeout=1&timeout=2", /twice/],
    ["nbd://h/%zz", /percent-encoding/],
  ])("refuses %s", (uri, message) => {
    expect(() => parseNbdUri(uri)).toThrow(message);
  });

  it("displays a URI without its query (which may name key files)", () => {
    expect(displayNbdUri(parseNbdUri("nbds://h:1/d?tls-certificates=/secret"))).toBe("nbds://h:1/d");
    expect(displayNbdUri(parseNbdUri("nbd+unix:///d?socket=/s"))).toBe("nbd+unix:///d?socket=/s");
  });
});
