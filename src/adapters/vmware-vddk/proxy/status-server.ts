/**
 * The proxy's status view: `GET /status` (JSON, one entry per protected VM: state, next run, last
 * result, failures) and `GET /metrics` (Prometheus text, prom-client), on a loopback address by
 * default. It shows no secrets: only names, counts, times and error codes.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";
import type { RunReport, SourceStatus } from "./scheduler.ts";

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #syncs = new Counter({
    name: "lifeboat_proxy_syncs_total",
    help: "Finished syncs by outcome",
    labelNames: ["source", "outcome", "mode"],
    registers: [this.registry],
  });
  readonly #read = new Counter({
    name: "lifeboat_proxy_bytes_read_total",
    help: "Bytes read from VM snapshots",
    labelNames: ["source"],
    registers: [this.registry],
  });
  readonly #stored = new Counter({
    name: "lifeboat_proxy_bytes_stored_total",
    help: "Bytes stored in the repository",
    labelNames: ["source"],
    registers: [this.registry],
  });

  constructor(status: () => readonly SourceStatus[]) {
    const gauge = (name: string, help: string, value: (s: SourceStatus) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ["source"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of status()) {
            const v = value(s);
            if (v !== undefined) this.set({ source: s.name }, v);
          }
        },
      });
    };
    gauge("lifeboat_proxy_running", "1 while a sync of the source runs", (s) =>
      s.state === "running" ? 1 : 0,
    );
    gauge(
      "lifeboat_proxy_consecutive_failures",
      "Failed syncs since the last success",
      (s) => s.consecutiveFailures,
    );
    gauge("lifeboat_proxy_last_success_timestamp_seconds", "When the last sync committed", (s) =>
      s.lastSuccessAt === undefined ? undefined : s.lastSuccessAt / 1000,
    );
    gauge(
      "lifeboat_proxy_next_run_timestamp_seconds",
      "When the next sync is due",
      (s) => s.nextDueAt / 1000,
    );
  }

  record(status: SourceStatus, report: RunReport): void {
    const mode = typeof report.detail.mode === "string" ? report.detail.mode : "none";
    this.#syncs.inc({ source: status.name, outcome: report.ok ? "committed" : "failed", mode });
    if (typeof report.detail.bytesRead === "number")
      this.#read.inc({ source: status.name }, report.detail.bytesRead);
    if (typeof report.detail.bytesStored === "number")
      this.#stored.inc({ source: status.name }, report.detail.bytesStored);
  }
}

export class ProxyStatusServer {
  #server: Server | undefined;

  constructor(
    readonly status: () => readonly SourceStatus[],
    readonly metrics: ProxyMetrics,
  ) {}

  /** Listens on HOST:PORT and returns the address actually bound (PORT 0 picks a free one). */
  async start(listen: string): Promise<string> {
    const colon = listen.lastIndexOf(":");
    const host = listen.slice(0, colon).replace(/^\[|\]$/g, "");
    const port = Number(listen.slice(colon + 1));
    const server = createServer((req, res) => {
      if (req.method === "GET" && req.url === "/status") {
        res
          .writeHead(200, { "Content-Type": "application/json" })
          .end(JSON.stringify({ sources: this.status() }, null, 2));
      } else if (req.method === "GET" && req.url === "/metrics") {
        this.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "Content-Type": this.metrics.registry.contentType }).end(text),
          (e: unknown) => res.writeHead(500).end(String(e)),
        );
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    return `${address.address}:${address.port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
