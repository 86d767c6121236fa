/**
 * Text-like content for the benchmark image: a seeded corpus of server log lines (web access logs,
 * application and system logs) with realistic field variety, so a 64 KiB block of it compresses the
 * way logs and documents do (zstd-1 ≈ 4–5×) rather than the way a repeated string does (≈ 100×).
 */

import { Prng } from "../src/adapters/sim/prng.ts";

const HOSTS = ["web-01", "web-02", "web-07", "db-03", "api-11", "batch-04", "mail-02", "cache-05"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const PATHS = [
  "/api/v2/orders/{id}",
  "/api/v2/customers/{id}/invoices",
  "/static/js/app.{id}.js",
  "/login",
  "/api/v1/search?q=backup+volume&page={n}",
  "/healthz",
  "/api/v2/shipments/{id}/events",
];
const STATUS = [200, 200, 200, 200, 201, 204, 301, 304, 404, 500];
const AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
  "curl/7.88.1",
  "python-requests/2.31.0",
];
const SERVICES = ["OrderService", "BillingJob", "InventorySync", "AuthProvider", "ReportBuilder"];
const EVENTS = [
  "order {id} for customer {n} shipped in {ms} ms",
  "invoice {id} generated ({n} lines, total {ms}.{n} EUR)",
  "cache miss for key customer:{n}:profile, loaded in {ms} ms",
  "user u{n} authenticated via ldap in {ms} ms",
  "retrying shipment {id} after timeout ({n}/5)",
  "report {id} exported to /srv/reports/{n}.csv",
];
const LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];

/** `bytes` of newline-separated log lines, identical for the same seed. */
export function logCorpus(seed: number, bytes: number): Buffer {
  const prng = new Prng(`lifeboat-bench/${seed}/corpus`);
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  let clock = Date.UTC(2024, 2, 14, 9, 0, 0);
  while (at < bytes) {
    clock += prng.int(0, 900);
    const line = logLine(prng, clock);
    at += out.write(line, at, "latin1");
  }
  return out;
}

function logLine(prng: Prng, clock: number): string {
  const ts = new Date(clock).toISOString();
  const host = prng.pick(HOSTS);
  const id = prng.int(10_000, 999_999);
  const n = prng.int(1, 20_000);
  const ms = prng.int(1, 4000);
  // A request id per line, as most services log: the entropy real logs carry.
  const rid = prng.u32().toString(16).padStart(8, "0");
  const fill = (template: string) =>
    template.replace("{id}", String(id)).replace("{n}", String(n)).replace("{ms}", String(ms));
  switch (prng.int(0, 3)) {
    case 0: {
      const ip = `10.${prng.int(0, 256)}.${prng.int(0, 256)}.${prng.int(1, 255)}`;
      return `${ts} ${host} nginx[${prng.int(1000, 3000)}]: ${ip} - - "${prng.pick(METHODS)} ${fill(prng.pick(PATHS))} HTTP/1.1" ${prng.pick(STATUS)} ${prng.int(0, 90_000)} "-" "${prng.pick(AGENTS)}" rid=${rid}\n`;
    }
    case 1:
      return `${ts} ${host} app[${prng.int(1000, 3000)}]: ${prng.pick(LEVELS)} [${prng.pick(SERVICES)}] ${fill(prng.pick(EVENTS))} rid=${rid}\n`;
    default:
      return `${ts} ${host} kernel: [${(clock / 1000) % 100_000}.${prng.int(100_000, 999_999)}] EXT4-fs (dm-${prng.int(0, 4)}): ${prng.pick(["mounted filesystem", "re-mounted", "orphan cleanup on readonly fs", "recovery complete"])} with ordered data mode. Quota mode: none.\n`;
  }
}
