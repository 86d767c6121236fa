/**
 * Does this store really refuse a create-only write over an existing object? Lifeboat's commits rest
 * on it: two agents racing for one point record must not both "create" it. S3 servers that predate
 * conditional writes (or proxies that drop the header) accept `If-None-Match: *` and overwrite
 * silently, so `repo init` asks the server before any repository is created on it, and refuses one
 * that fails. (Refusing, rather than falling back to per-source leases, keeps one commit protocol
 * that every reader and writer of a repository can rely on.)
 */

import { randomUUID } from "node:crypto";
import { LifeboatError } from "../../domain/errors.ts";
import type { ObjectStore } from "../../ports/object-store.ts";

/** Outside every repository namespace, so a probe object left behind is never mistaken for data. */
export const PROBE_PREFIX = "lifeboat-probe/";

/**
 * Writes a fresh probe object twice with `ifAbsent`, then reads it back: the second write must answer
 * "exists" and leave the first content in place. Throws STORE_UNSUPPORTED naming `where` otherwise.
 * Store failures (credentials, missing bucket, network) propagate as the store reports them.
 */
export async function assertCreateOnlyHonoured(store: ObjectStore, where: string): Promise<void> {
  const key = `${PROBE_PREFIX}create-only-${randomUUID()}`;
  const first = new TextEncoder().encode(`first write of ${key}`);
  const second = new TextEncoder().encode(`second write of ${key}, which must not land`);
  let verdict: string | undefined;
  try {
    // "exists" is possible here too: our own write landed and a retry after a lost reply saw it.
    await store.put(key, first, { ifAbsent: true });
    const again = await store.put(key, second, { ifAbsent: true });
    const stored = await store.get(key);
    if (again === "created") verdict = "answered a create-only write over an existing object with success";
    else if (!sameBytes(stored, first)) verdict = "replaced an existing object on a create-only write";
  } finally {
    // Best effort: the probe key is outside the repository's namespaces, so a leftover (a key that
    // may write but not delete, a failure above) is inert. The probe's own outcome is what matters.
    await store.delete(key).catch(() => undefined);
  }
  if (verdict !== undefined) {
    throw new LifeboatError(
      "STORE_UNSUPPORTED",
      `${where} ignores If-None-Match: * on PUT (it ${verdict}); refusing to create a repository there`,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
