/** Starts the simulated vCenter (src/adapters/sim/vsphere) on a temporary datastore for a test. */

import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  SimVcenter,
  type SimVcenterOptions,
  SimVsphereServer,
} from "../../../src/adapters/sim/vsphere/index.ts";
import { VimClient } from "../../../src/adapters/vmware-vddk/soap/vim-client.ts";

const TLS_DIR = fileURLToPath(new URL("../../fixtures/vsphere/tls/", import.meta.url));
export const TLS = {
  key: readFileSync(join(TLS_DIR, "sim-vcenter.key")),
  cert: readFileSync(join(TLS_DIR, "sim-vcenter.crt")),
};
export const THUMBPRINT = new X509Certificate(TLS.cert).fingerprint;
export const USER = "backup@vsphere.local";
export const PASSWORD = "sim-password-0123";

export interface SimHarness {
  readonly world: SimVcenter;
  readonly server: SimVsphereServer;
  readonly url: string;
  readonly root: string;
  connect(): Promise<VimClient>;
  stop(): Promise<void>;
}

export async function startSim(
  options: Partial<SimVcenterOptions> = {},
  serverOptions: { xsiPrefix?: string } = {},
): Promise<SimHarness> {
  const root = mkdtempSync(join(tmpdir(), "lifeboat-sim-vsphere-"));
  const world = new SimVcenter({ root, user: USER, password: PASSWORD, seed: 7, ...options });
  const server = new SimVsphereServer(world, { ...TLS, ...serverOptions });
  const url = await server.start();
  const clients: VimClient[] = [];
  return {
    world,
    server,
    url,
    root,
    connect: async () => {
      const client = await VimClient.connect(url, {
        credentials: { user: USER, password: PASSWORD },
        thumbprint: THUMBPRINT,
      });
      clients.push(client);
      return client;
    },
    stop: async () => {
      for (const c of clients) await c.close();
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Deterministic bytes for guest writes. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
