/**
 * Faults and tasks of the simulated vCenter. A method fault is a `SimFault` thrown by a handler;
 * a task runs its action at once but reports `running` for a few polls (so clients must poll),
 * then `success` with its result or `error` with a LocalizedMethodFault, as TaskInfo does.
 */

import { escapeXml } from "../../vmware-vddk/soap/xml.ts";
import type { FaultSpec, MoRef } from "./sim-vcenter.ts";
import { mo, type VimWriter } from "./vim-writer.ts";

export class SimFault extends Error implements FaultSpec {
  constructor(
    readonly type: string,
    readonly text: string,
    readonly fields = "",
  ) {
    super(`${type}: ${text}`);
  }
}

export interface SimTask {
  readonly ref: MoRef;
  readonly name: string;
  readonly entity: MoRef;
  readonly queued: string;
  pollsLeft: number;
  readonly result?: MoRef;
  readonly error?: FaultSpec;
}

export function startTask(
  id: string,
  name: string,
  entity: MoRef,
  polls: number,
  action: () => MoRef | undefined,
): SimTask {
  const base = {
    ref: { type: "Task", value: id },
    name,
    entity,
    queued: new Date().toISOString(),
    pollsLeft: polls,
  };
  try {
    const result = action();
    return result === undefined ? base : { ...base, result };
  } catch (e) {
    if (e instanceof SimFault) return { ...base, error: e };
    throw e;
  }
}

export function taskInfo(w: VimWriter, task: SimTask): string {
  const running = task.pollsLeft > 0;
  if (running) task.pollsLeft--;
  const state = running ? "running" : task.error === undefined ? "success" : "error";
  const outcome =
    state === "error" && task.error !== undefined
      ? `<error><fault${w.type(task.error.type)}>${task.error.fields ?? ""}</fault><localizedMessage>${escapeXml(task.error.text)}</localizedMessage></error>`
      : state === "success" && task.result !== undefined
        ? `<result type="${task.result.type}"${w.type("ManagedObjectReference")}>${task.result.value}</result>`
        : "";
  return `<key>${task.ref.value}</key>${mo("task", task.ref)}<name>${task.name}</name><descriptionId>VirtualMachine.${task.name}</descriptionId>${mo("entity", task.entity)}<state>${state}</state><cancelled>false</cancelled><cancelable>false</cancelable>${outcome}<reason${w.type("TaskReasonUser")}><userName>lifeboat</userName></reason><queueTime>${task.queued}</queueTime><eventChainId>1</eventChainId>`;
}
