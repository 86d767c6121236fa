/**
 * The seeded fault schedule of a simulated world. Every step at which the real world can fail —
 * an engine fault site, a store operation, a state write, a snapshot read — advances one step
 * counter; a fault armed for step N fires at the first applicable step ≥ N. A crash kills the
 * simulated process: from then on every step throws, until the world restarts it.
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { StoreFault, StoreOp } from "../store-decorators/faulty-store.ts";
import type { FaultPoints, FaultSite } from "../../ports/fault-points.ts";

/** The simulated process died; nothing it had in memory survives. */
export class SimulatedCrash extends Error {
  constructor(readonly site: string) {
    super(`simulated crash at ${site}`);
    this.name = "SimulatedCrash";
  }
}

export const STEP_FAULT_KINDS = [
  "crash",
  "store-5xx",
  "store-slowdown",
  "store-timeout",
  "store-enospc",
  "store-torn-temp",
  "store-lost-reply",
  "read-error",
] as const;
export type StepFaultKind = (typeof STEP_FAULT_KINDS)[number];

export interface ArmedFault {
  readonly atStep: number;
  readonly kind: StepFaultKind;
}

type Site =
  | { readonly kind: "engine"; readonly site: FaultSite }
  | { readonly kind: "store"; readonly op: StoreOp }
  | { readonly kind: "state" }
  | { readonly kind: "read" };

export class FaultInjector implements FaultPoints {
  #step = 0;
  #dead = false;
  #armed: ArmedFault[] = [];
  /** Crashes aimed at the n-th hit of one engine site (commit windows are few steps wide). */
  #aimed: Array<{ site: FaultSite; remaining: number }> = [];
  readonly injected = new Map<StepFaultKind, number>();
  /** Writes a torn temp file for a put that dies half-way (set by worlds whose store has temp files). */
  tornTemp: ((key: string, data: Uint8Array) => Promise<void>) | undefined;

  get step(): number {
    return this.#step;
  }

  get dead(): boolean {
    return this.#dead;
  }

  arm(fault: ArmedFault): void {
    this.#armed.push(fault);
  }

  /** Kills the process at the `nth` next hit of `site`. */
  crashAt(site: FaultSite, nth: number): void {
    this.#aimed.push({ site, remaining: nth });
  }

  disarmAll(): void {
    this.#armed = [];
    this.#aimed = [];
  }

  /** A new process starts: the crash is over, the schedule goes on. */
  revive(): void {
    this.#dead = false;
  }

  hit(site: FaultSite): void {
    const aimed = this.#aimed.findIndex((a) => a.site === site && --a.remaining <= 0);
    if (aimed >= 0) {
      this.#aimed.splice(aimed, 1);
      if (this.#dead) throw new SimulatedCrash("a step after the process died");
      this.injected.set("crash", (this.injected.get("crash") ?? 0) + 1);
      throw this.#crash(`engine:${site}`);
    }
    const fault = this.#due({ kind: "engine", site });
    if (fault === undefined) return;
    if (fault === "read-error") throw readError();
    throw this.#crash(`engine:${site}`);
  }

  /** For FaultyStore: whether this store operation fails, and how. */
  storeFault(op: StoreOp, key: string): StoreFault | undefined {
    const fault = this.#due({ kind: "store", op });
    switch (fault) {
      case undefined:
        return undefined;
      case "crash":
        // Half the crashes land before the request, half after it reached the store.
        return { when: this.#step % 2 === 0 ? "before" : "after", error: this.#crash(`store:${op} ${key}`) };
      case "store-5xx":
        return {
          when: "before",
          error: transient(`injected 503 Service Unavailable on ${op} ${key}`, {
            $metadata: { httpStatusCode: 503 },
          }),
        };
      case "store-slowdown":
        return {
          when: "before",
          error: transient(`injected SlowDown on ${op} ${key}`, {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
          }),
        };
      case "store-timeout":
        return {
          when: "before",
          error: transient(
            `injected timeout on ${op} ${key}`,
            Object.assign(new Error("timeout"), { code: "ETIMEDOUT" }),
          ),
        };
      case "store-enospc":
        return { when: "before", error: new LifeboatError("STORE_FULL", `injected ENOSPC writing ${key}`) };
      case "store-lost-reply":
        return {
          when: "after",
          error: transient(`injected lost reply: ${op} ${key} landed but answered an error`, {
            $metadata: { httpStatusCode: 500 },
          }),
        };
      case "store-torn-temp": {
        const crash = this.#crash(`store:${op} ${key} (torn temp file)`);
        const torn = this.tornTemp;
        return {
          when: "before",
          error: crash,
          ...(torn === undefined
            ? {}
            : { sideEffect: async (k: string, data?: Uint8Array) => torn(k, data ?? new Uint8Array()) }),
        };
      }
      default:
        return undefined;
    }
  }

  /** For the state store: whether this write dies before or after it lands. */
  stateFault(key: string): { when: "before" | "after"; error: SimulatedCrash } | undefined {
    const fault = this.#due({ kind: "state" });
    if (fault === undefined) return undefined;
    return { when: this.#step % 2 === 0 ? "before" : "after", error: this.#crash(`state:${key}`) };
  }

  /** For snapshot reads: a device error or a crash. */
  readFault(): Error | undefined {
    const fault = this.#due({ kind: "read" });
    if (fault === undefined) return undefined;
    return fault === "read-error" ? readError() : this.#crash("snapshot read");
  }

  #due(site: Site): StepFaultKind | undefined {
    if (this.#dead) throw new SimulatedCrash("a step after the process died");
    this.#step++;
    const index = this.#armed.findIndex((f) => f.atStep <= this.#step && applies(f.kind, site));
    if (index < 0) return undefined;
    const [fault] = this.#armed.splice(index, 1) as [ArmedFault];
    this.injected.set(fault.kind, (this.injected.get(fault.kind) ?? 0) + 1);
    return fault.kind;
  }

  #crash(site: string): SimulatedCrash {
    this.#dead = true;
    return new SimulatedCrash(site);
  }
}

function applies(kind: StepFaultKind, site: Site): boolean {
  switch (kind) {
    case "crash":
      return true;
    case "read-error":
      return site.kind === "read";
    case "store-5xx":
    case "store-slowdown":
    case "store-timeout":
      return site.kind === "store";
    case "store-enospc":
    case "store-lost-reply":
    case "store-torn-temp":
      return site.kind === "store" && site.op === "put";
  }
}

/** A transient store error as the SDK or the OS reports it; the retrying store classifies it by its cause. */
function transient(message: string, cause: unknown): LifeboatError {
  return new LifeboatError("STORE_IO", message, { cause });
}

function readError(): LifeboatError {
  return Object.assign(new LifeboatError("SOURCE_READ", "injected I/O error reading the snapshot"), {
    retryable: true,
  });
}
