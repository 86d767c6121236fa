/**
 * Property reads through the PropertyCollector (`RetrievePropertiesEx` + `ContinueRetrievePropertiesEx`),
 * object by object, without traversal specs. An unset property is simply absent; a property the
 * server could not read comes back in `missingSet` with its fault. When every property is missing
 * with NotAuthenticated the session has expired behind a 200 reply: log in again once and retry.
 */

import type { VimClient } from "../soap/vim-client.ts";
import { type MoRef, moRefKey, replyError, type VimNode } from "../soap/vim-node.ts";
import { moArg } from "../soap/soap-binding.ts";

export interface MissingProperty {
  readonly faultType: string;
  readonly message: string;
}

export interface ObjectProperties {
  readonly obj: MoRef;
  readonly props: ReadonlyMap<string, VimNode>;
  readonly missing: ReadonlyMap<string, MissingProperty>;
}

/** Reads `paths` of every object in `objs` (all of type `type`); keyed by `moRefKey`. */
export async function retrieveProperties(
  client: VimClient,
  type: string,
  objs: readonly MoRef[],
  paths: readonly string[],
): Promise<Map<string, ObjectProperties>> {
  const first = await retrieveOnce(client, type, objs, paths);
  const allExpired =
    first.size > 0 &&
    [...first.values()].every(
      (o) => o.props.size === 0 && [...o.missing.values()].some((m) => m.faultType === "NotAuthenticated"),
    );
  if (!allExpired) return first;
  client.log.info({ type }, "properties came back NotAuthenticated; logging in again");
  await client.login();
  return retrieveOnce(client, type, objs, paths);
}

async function retrieveOnce(
  client: VimClient,
  type: string,
  objs: readonly MoRef[],
  paths: readonly string[],
): Promise<Map<string, ObjectProperties>> {
  const out = new Map<string, ObjectProperties>();
  if (objs.length === 0) return out;
  const collector = client.content.propertyCollector;
  let reply = await client.call("RetrievePropertiesEx", collector, {
    specSet: [
      {
        propSet: [{ type, all: false, pathSet: [...paths] }],
        objectSet: objs.map((obj) => ({ obj: moArg(obj), skip: false })),
      },
    ],
    options: {},
  });
  for (let pages = 0; ; pages++) {
    const result = reply.opt("returnval");
    if (result === undefined) return out;
    for (const content of result.many("objects")) {
      const parsed = parseObjectContent(content);
      out.set(moRefKey(parsed.obj), parsed);
    }
    const token = result.optStr("token");
    if (token === undefined) return out;
    if (pages > 10_000) throw replyError("RetrievePropertiesEx: the server keeps paging past 10 000 pages");
    reply = await client.call("ContinueRetrievePropertiesEx", collector, { token });
  }
}

/** One `ObjectContent`: `obj`, `propSet[]` (name, val) and `missingSet[]` (path, fault). */
export function parseObjectContent(content: VimNode): ObjectProperties {
  const obj = content.child("obj").moref();
  const props = new Map<string, VimNode>();
  for (const p of content.many("propSet")) props.set(p.str("name"), p.child("val"));
  const missing = new Map<string, MissingProperty>();
  for (const m of content.many("missingSet")) {
    const fault = m.opt("fault");
    const inner = fault?.opt("fault");
    missing.set(m.str("path"), {
      faultType: inner?.xsiType() ?? "UnknownFault",
      message: fault?.optStr("localizedMessage") ?? "",
    });
  }
  return { obj, props, missing };
}

/** Reads one object's properties or throws when the object does not come back at all. */
export async function retrieveOne(
  client: VimClient,
  obj: MoRef,
  paths: readonly string[],
): Promise<ObjectProperties> {
  const found = (await retrieveProperties(client, obj.type, [obj], paths)).get(moRefKey(obj));
  if (found === undefined)
    throw replyError(`RetrievePropertiesEx returned nothing for ${obj.type} ${obj.value}`);
  return found;
}
