/**
 * Registration: the first start of an agent runs preflight and freezes EXCLUDE_DISKS in local
 * state. Later starts must present the same exclusions; a change is refused until the operator
 * clears the registration and registers again (the seeds' "clear the resources and re-register").
 */

import { LifeboatError } from "../../domain/errors.ts";
import type { StateStore } from "../../ports/state-store.ts";

const KEY = "windows-agent-registration";

export interface Registration {
  readonly source: string;
  readonly excludedDisks: readonly string[];
  readonly registeredAt: string;
  readonly host: string;
}

export function readRegistration(state: StateStore): Promise<Registration | undefined> {
  return state.read<Registration>(KEY);
}

export async function register(state: StateStore, registration: Registration): Promise<void> {
  await state.write(KEY, registration);
}

export async function clearRegistration(state: StateStore): Promise<void> {
  await state.delete(KEY);
}

/** Throws unless the configured exclusions and source match the frozen ones. */
export function checkFrozen(
  registration: Registration,
  source: string,
  excludedDisks: readonly string[],
): void {
  if (registration.source !== source) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `this state directory is registered for source ${registration.source}, not ${source}`,
      {
        remedy: "Use the state directory of this source, or clear the registration with --reregister.",
      },
    );
  }
  const frozen = new Set(registration.excludedDisks);
  const now = new Set(excludedDisks);
  if (frozen.size !== now.size || [...frozen].some((d) => !now.has(d))) {
    throw new LifeboatError(
      "CONFIG_INVALID",
      `EXCLUDE_DISKS is frozen at registration (${registration.registeredAt}): registered [${[...frozen].join(", ")}], configured [${[...now].join(", ")}]`,
      {
        remedy:
          "Restore the registered excludeDisks, or run `lifeboat agent --config FILE --reregister` to clear the registration and register again (the next sync of a newly included disk is full).",
      },
    );
  }
}
