/**
 * Waiting for a vSphere task (`ReconfigVM_Task`, `CreateSnapshot_Task`, …) by polling its `info`
 * with a growing interval. A task that fails carries a `LocalizedMethodFault`, which becomes the
 * same coded fault error a method fault would.
 */

import { LifeboatError } from "../../../domain/errors.ts";
import { VimFaultError } from "../soap/envelope.ts";
import type { VimClient } from "../soap/vim-client.ts";
import { type MoRef, replyError, type VimNode } from "../soap/vim-node.ts";
import { retrieveOne } from "./property-collector.ts";

export interface TaskWait {
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a task method and waits for it; returns `info.result` (absent for void tasks). */
export async function runTask(
  client: VimClient,
  operation: string,
  _this: MoRef,
  args: Record<string, unknown>,
  wait: TaskWait = {},
): Promise<VimNode | undefined> {
  const task = (await client.call(operation, _this, args)).child("returnval").moref("Task");
  return waitForTask(client, task, operation, wait);
}

export async function waitForTask(
  client: VimClient,
  task: MoRef,
  operation: string,
  wait: TaskWait = {},
): Promise<VimNode | undefined> {
  const sleep = wait.sleep ?? realSleep;
  const deadline = Date.now() + (wait.timeoutMs ?? 30 * 60_000);
  for (let interval = 50; ; interval = Math.min(interval * 2, 2_000)) {
    const info = (await retrieveOne(client, task, ["info"])).props.get("info");
    if (info === undefined) throw replyError(`${operation}: task ${task.value} has no info`);
    const state = info.str("state");
    if (state === "success") return info.opt("result");
    if (state === "error") throw taskFault(info, operation);
    if (state !== "queued" && state !== "running")
      throw replyError(`${operation}: task state ${JSON.stringify(state)}`);
    if (Date.now() > deadline) {
      throw new LifeboatError(
        "VSPHERE_FAULT",
        `${operation}: task ${task.value} still ${state} after the timeout`,
        {
          remedy:
            "Check the task in vCenter's Recent Tasks; it may be waiting on a lock held by another task.",
        },
      );
    }
    await sleep(interval);
  }
}

/** A task's `LocalizedMethodFault` (`<error><fault xsi:type=…>…</fault><localizedMessage>`). */
export function taskFault(info: VimNode, operation: string): VimFaultError {
  const error = info.opt("error");
  const fault = error?.opt("fault");
  const type = fault?.xsiType() ?? "UnknownFault";
  const text = error?.optStr("localizedMessage") || type;
  const code = type === "NoPermission" ? "VSPHERE_NO_PERMISSION" : "VSPHERE_FAULT";
  return new VimFaultError(code, type, text, fault, operation);
}
