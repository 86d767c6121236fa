import { createHash, X509Certificate } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { VimClient } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";
import { readVmInventory } from "../../../src/adapters/vmware-vddk/vsphere/vm-inventory.ts";
import type { Log } from "../../../src/ports/log.ts";
import { fixture } from "./fixtures.ts";
import {
  envelope,
  fault,
  type HostileServer,
  LOGIN_SCRIPT,
  type Script,
  startHostileServer,
  testThumbprint,
  TLS,
} from "./hostile-server.ts";

const PASSWORD = "s3cr3t-Pa55-never-logged";
const VM = { type: "VirtualMachine", value: "vm-127" };

let server: HostileServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function recordingLog(lines: string[]): Log {
  const put = (level: string) => (fields: object, message: string) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  return { debug: put("debug"), info: put("info"), warn: put("warn"), error: put("error") };
}

async function connect(
  script: Script,
  extra: { timeoutMs?: number; maxReplyBytes?: number; log?: Log } = {},
): Promise<VimClient> {
  server = await startHostileServer({ ...LOGIN_SCRIPT, ...script });
  return VimClient.connect(server.url, {
    credentials: { user: "backup@vsphere.local", password: PASSWORD },
    thumbprint: testThumbprint(),
    ...extra,
  });
}

/** A RetrievePropertiesEx reply for vm-127 with the given propSets. */
function vmReply(propSets: string): string {
  return envelope(
    `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-127</obj>${propSets}</objects></returnval></RetrievePropertiesExResponse>`,
  );
}

const CONFIG_VAL = (() => {
  const text = fixture("xml/RetrievePropertiesEx-VirtualMachine.config-response-1.xml");
  return text.slice(text.indexOf("<propSet>"), text.lastIndexOf("</propSet>") + "</propSet>".length);
})();
const RUNTIME = `<propSet><name>runtime</name><val xsi:type="VirtualMachineRuntimeInfo"><powerState>poweredOn</powerState></val></propSet>`;

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe("hostile or broken vSphere replies become coded errors", () => {
  it("reads a well-formed VM inventory from the scripted server (the baseline the other cases break)", async () => {
    const client = await connect({ RetrievePropertiesEx: { body: vmReply(CONFIG_VAL + RUNTIME) } });
    const vm = await readVmInventory(client, VM);
    expect(vm.config.disks[0]?.capacityBytes).toBe(21_474_836_480);
    await client.close();
  });

  it("reports a property fault (NoPermission) as VSPHERE_NO_PERMISSION", async () => {
    const client = await connect({
      RetrievePropertiesEx: fault(
        "NoPermission",
        "Permission to perform this operation was denied.",
        "<privilegeId>System.Read</privilegeId>",
      ),
    });
    expect(await codeOf(readVmInventory(client, VM))).toBe("VSPHERE_NO_PERMISSION");
  });

  it("refuses a VM reply missing its config property", async () => {
    const client = await connect({ RetrievePropertiesEx: { body: vmReply(RUNTIME) } });
    await expect(readVmInventory(client, VM)).rejects.toMatchObject({
      code: "VSPHERE_REPLY_INVALID",
      message: expect.stringContaining("without its config property"),
    });
  });

  it("refuses a wrongly typed capacity, naming the property path", async () => {
    const broken = CONFIG_VAL.replace(
      "<capacityInBytes>21474836480</capacityInBytes>",
      "<capacityInBytes>lots</capacityInBytes>",
    );
    const client = await connect({ RetrievePropertiesEx: { body: vmReply(broken + RUNTIME) } });
    await expect(readVmInventory(client, VM)).rejects.toMatchObject({
      code: "VSPHERE_REPLY_INVALID",
      message: expect.stringMatching(/device\[\d+\]\.capacityInBytes is "lots"/),
    });
  });

  it("refuses a disk key that is not a 32-bit int and a boolean that is not a boolean", async () => {
    const badKey = CONFIG_VAL.replace("<key>2000</key>", "<key>99999999999</key>");
    const badBool = CONFIG_VAL.replace(
      "<changeTrackingEnabled>false</changeTrackingEnabled>",
      "<changeTrackingEnabled>maybe</changeTrackingEnabled>",
    );
    for (const body of [badKey, badBool]) {
      const client = await connect({ RetrievePropertiesEx: { body: vmReply(body + RUNTIME) } });
      expect(await codeOf(readVmInventory(client, VM))).toBe("VSPHERE_REPLY_INVALID");
      await server?.close();
      server = undefined;
    }
  });

  it("cuts off a huge reply at the size cap instead of buffering it", async () => {
    const huge = vmReply(`<propSet><name>x</name><val>${"A".repeat(3 << 20)}</val></propSet>`);
    const client = await connect({ RetrievePropertiesEx: { body: huge } }, { maxReplyBytes: 1 << 20 });
    await expect(readVmInventory(client, VM)).rejects.toMatchObject({
      code: "VSPHERE_REPLY_INVALID",
      message: expect.stringContaining("larger than 1048576 bytes"),
    });
  });

  it.each([
    ["an HTML error page from a proxy", { status: 502, body: "<html><body>Bad Gateway</body></html>" }],
    ["plain text", { status: 200, body: "not xml at all" }],
    [
      "an entity-expansion bomb",
      { status: 200, body: `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]><a>&a;</a>` },
    ],
    [
      "HTTP 500 without a SOAP fault",
      { status: 500, body: envelope(`<RetrievePropertiesExResponse xmlns="urn:vim25"/>`) },
    ],
    ["the wrong response element", { status: 200, body: fixture("xml/Logout-response-1.xml") }],
    [
      "two response elements",
      {
        status: 200,
        body: envelope(`<RetrievePropertiesExResponse xmlns="urn:vim25"/><X xmlns="urn:vim25"/>`),
      },
    ],
  ])("refuses %s", async (_, answer) => {
    const client = await connect({ RetrievePropertiesEx: answer });
    expect(await codeOf(readVmInventory(client, VM))).toBe("VSPHERE_REPLY_INVALID");
  });

  it("gives up on a server that does not answer in time", async () => {
    const client = await connect(
      { RetrievePropertiesEx: { body: vmReply(RUNTIME), delayMs: 2_000 } },
      { timeoutMs: 300 },
    );
    expect(await codeOf(readVmInventory(client, VM))).toBe("VSPHERE_UNREACHABLE");
  });

  it("logs in again once when the session expired (NotAuthenticated fault), then carries on", async () => {
    let calls = 0;
    const client = await connect({
      RetrievePropertiesEx: () =>
        ++calls === 1
          ? fault(
              "NotAuthenticated",
              "The session is not authenticated.",
              '<object type="Folder">group-d1</object><privilegeId>System.View</privilegeId>',
            )
          : { body: vmReply(CONFIG_VAL + RUNTIME) },
    });
    await readVmInventory(client, VM);
    expect(server?.requests.filter((r) => r.includes(":Login")).length).toBe(2);
  });

  it("logs in again when an expired session answers 200 with every property in missingSet", async () => {
    let calls = 0;
    const missing = `<missingSet><path>config</path><fault><fault xsi:type="NotAuthenticated"><object type="Folder">group-d1</object><privilegeId>System.View</privilegeId></fault><localizedMessage/></fault></missingSet>`;
    const client = await connect({
      RetrievePropertiesEx: () =>
        ++calls === 1 ? { body: vmReply(missing) } : { body: vmReply(CONFIG_VAL + RUNTIME) },
    });
    await readVmInventory(client, VM);
    expect(calls).toBe(2);
  });
});

describe("sessions, certificates and secrets", () => {
  it("sends the session cookie back exactly as vCenter set it, quotes included", async () => {
    const client = await connect({ RetrievePropertiesEx: { body: vmReply(CONFIG_VAL + RUNTIME) } });
    await readVmInventory(client, VM);
    const last = server?.requests.at(-1) ?? "";
    expect(last.split("\n")[0]).toBe('vmware_soap_session="0123456789abcdef0123456789abcdef01234567"');
  });

  it("refuses a certificate whose thumbprint differs from the pin before sending anything", async () => {
    server = await startHostileServer(LOGIN_SCRIPT);
    const wrong = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33";
    await expect(
      VimClient.connect(server.url, { credentials: { user: "u", password: PASSWORD }, thumbprint: wrong }),
    ).rejects.toMatchObject({
      code: "VSPHERE_TLS_UNTRUSTED",
      message: expect.stringContaining(testThumbprint()),
    });
    expect(server.requests).toEqual([]);
  });

  it("refuses a self-signed certificate without a pin, naming both thumbprints", async () => {
    server = await startHostileServer(LOGIN_SCRIPT);
    await expect(
      VimClient.connect(server.url, { credentials: { user: "u", password: PASSWORD } }),
    ).rejects.toMatchObject({
      code: "VSPHERE_TLS_UNTRUSTED",
      message: expect.stringMatching(/SHA-1 [0-9A-F:]{59}, SHA-256 [0-9A-F:]{95}/),
    });
    expect(server.requests).toEqual([]);
  });

  it("accepts a SHA-256 pin in any common spelling", async () => {
    server = await startHostileServer(LOGIN_SCRIPT);
    const sha256 = createHash("sha256").update(new X509Certificate(TLS.cert).raw).digest("hex");
    const client = await VimClient.connect(server.url, {
      credentials: { user: "u", password: PASSWORD },
      thumbprint: `sha256:${sha256.toLowerCase()}`,
    });
    expect(client.version).toBe("6.7");
    await client.close();
  });

  it("never lets the password reach the log or an error, even on a failed login", async () => {
    const lines: string[] = [];
    const log = recordingLog(lines);
    const ok = await connect({ RetrievePropertiesEx: { body: vmReply(CONFIG_VAL + RUNTIME) } }, { log });
    await readVmInventory(ok, VM);
    await ok.close();
    await server?.close();
    server = await startHostileServer({
      ...LOGIN_SCRIPT,
      Login: { status: 500, body: fixture("xml/Login-fault-InvalidLogin-response-1.xml") },
    });
    let error: unknown;
    try {
      await VimClient.connect(server.url, {
        credentials: { user: "u", password: PASSWORD },
        thumbprint: testThumbprint(),
        log,
      });
    } catch (e) {
      error = e;
    }
    expect((error as { code: string }).code).toBe("VSPHERE_LOGIN_FAILED");
    const everything = [...lines, String(error), JSON.stringify(error), (error as Error).stack ?? ""].join(
      "\n",
    );
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(PASSWORD);
  });
});
