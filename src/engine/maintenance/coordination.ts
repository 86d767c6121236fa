/**
 * How running jobs and maintenance stay out of each other's way through the store alone (many
 * agents and proxies share one bucket, no other channel):
 *
 * - a job pins its base point and the packs it reuses from an interrupted attempt
 *   (`locks/pins/<source>/<jobId>`, heartbeat refreshed while it runs): prune keeps pinned bases,
 *   GC keeps pinned packs and every object first seen after the oldest live pin started;
 * - a maintenance run holds the lease `locks/maintenance` and announces itself with a marker
 *   `gc/runs/<id>` before it lists pins, and `gc/runs/<id>.done` when it finishes;
 * - a job notes the runs in progress when it pins; before it commits it waits for none of them —
 *   it fails (retryably) if one has not finished, because that run may have listed pins before the
 *   job's pin existed — and then checks that every reused pack still exists.
 */

import { randomUUID } from "node:crypto";
import { isLifeboatError, LifeboatError } from "../../domain/errors.ts";
import type { Clock } from "../../ports/clock.ts";
import type { ObjectStore } from "../../ports/object-store.ts";
import { GC_PREFIX, LOCKS_PREFIX } from "../repository/object-keys.ts";
import type { MaintenanceSafety } from "./safety.ts";

export interface JobPin {
  readonly jobId: string;
  readonly source: string;
  readonly baseSeq: number | null;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  /** Packs an interrupted attempt made durable that this job will reference. */
  readonly reusedPacks: readonly string[];
}

const PINS_PREFIX = `${LOCKS_PREFIX}pins/`;
const LEASE_KEY = `${LOCKS_PREFIX}maintenance`;
const RUNS_PREFIX = `${GC_PREFIX}runs/`;

export function pinKey(source: string, jobId: string): string {
  return `${PINS_PREFIX}${source}/${jobId}`;
}

export async function writePin(store: ObjectStore, pin: JobPin): Promise<void> {
  await store.put(pinKey(pin.source, pin.jobId), encode(pin));
}

export async function deletePin(store: ObjectStore, source: string, jobId: string): Promise<void> {
  await store.delete(pinKey(source, jobId));
}

/** Pins whose heartbeat is recent enough that their job may still be running. */
export async function livePins(
  store: ObjectStore,
  now: number,
  safety: MaintenanceSafety,
): Promise<JobPin[]> {
  const pins: JobPin[] = [];
  for await (const { key } of store.list(PINS_PREFIX)) {
    const pin = await readJson<JobPin>(store, key);
    if (pin !== undefined && now - pin.heartbeatAt <= safety.pinTtlMs + safety.clockSkewMs) pins.push(pin);
  }
  return pins;
}

export interface RunMarker {
  readonly id: string;
  readonly startedAt: number;
}

/** Maintenance runs that have started and not finished (nor died of old age). */
export async function runsInProgress(
  store: ObjectStore,
  now: number,
  safety: MaintenanceSafety,
): Promise<string[]> {
  const started = new Map<string, RunMarker | undefined>();
  const done = new Set<string>();
  for await (const { key } of store.list(RUNS_PREFIX)) {
    const name = key.slice(RUNS_PREFIX.length);
    if (name.endsWith(".done")) done.add(name.slice(0, -5));
    else started.set(name, await readJson<RunMarker>(store, key));
  }
  return [...started.entries()]
    .filter(([id, m]) => !done.has(id) && m !== undefined && now - m.startedAt < safety.maxRunMs)
    .map(([id]) => id);
}

export async function isRunDone(store: ObjectStore, id: string): Promise<boolean> {
  return (await store.head(`${RUNS_PREFIX}${id}.done`)) !== undefined;
}

/** The exclusive right to prune and collect garbage, announced to jobs by a run marker. */
export class MaintenanceRun {
  private constructor(
    readonly store: ObjectStore,
    readonly id: string,
  ) {}

  static async begin(
    store: ObjectStore,
    clock: Clock,
    safety: MaintenanceSafety,
    owner: string,
  ): Promise<MaintenanceRun> {
    const now = clock.now();
    const lease = { owner, acquiredAt: now, expiresAt: now + safety.leaseTtlMs };
    if ((await store.put(LEASE_KEY, encode(lease), { ifAbsent: true })) === "exists") {
      const held = await readJson<typeof lease>(store, LEASE_KEY);
      if (held !== undefined && held.expiresAt > now) {
        throw new LifeboatError(
          "CONFLICT",
          `maintenance is already running (lease held by ${held.owner} until ${new Date(held.expiresAt).toISOString()})`,
          {
            remedy:
              "Wait for the other maintenance run to finish; a lease of a crashed run expires by itself.",
          },
        );
      }
      // Expired: break it. Create-only again, so of two breakers only one wins.
      await store.delete(LEASE_KEY);
      if ((await store.put(LEASE_KEY, encode(lease), { ifAbsent: true })) === "exists") {
        throw new LifeboatError("CONFLICT", "another maintenance run took the expired lease first");
      }
    }
    const id = `${String(now).padStart(15, "0")}-${randomUUID()}`;
    await store.put(`${RUNS_PREFIX}${id}`, encode({ id, startedAt: now } satisfies RunMarker), {
      ifAbsent: true,
    });
    return new MaintenanceRun(store, id);
  }

  async end(): Promise<void> {
    await this.store.put(`${RUNS_PREFIX}${this.id}.done`, encode({ id: this.id }));
    await this.store.delete(LEASE_KEY);
  }
}

function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return JSON.parse(Buffer.from(await store.get(key)).toString("utf8")) as T;
  } catch (e) {
    if (isLifeboatError(e, "OBJECT_MISSING") || e instanceof SyntaxError) return undefined;
    throw e;
  }
}
