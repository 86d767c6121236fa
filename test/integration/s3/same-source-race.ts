/**
 * Two agents backing up the same source into one S3 repository at the same moment, with their phases
 * interleaved deterministically: both take their snapshot before either commits, so both aim at the
 * same sequence number. Each agent has its own client, store and repository handle, as two machines
 * would. The create-only point record must let exactly one of them commit.
 */

import { ImageSource } from "../../../src/adapters/image/image-source.ts";
import { RetryingStore } from "../../../src/adapters/store-decorators/retrying-store.ts";
import { systemClock } from "../../../src/adapters/system/system-clock.ts";
import { isLifeboatError } from "../../../src/domain/errors.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { SyncJob } from "../../../src/engine/sync-job.ts";
import { silentLog } from "../../../src/ports/log.ts";
import type { Rgw } from "./rgw-setup.ts";

export interface RaceOutcome {
  /** "committed", or the error code that stopped the job. */
  readonly winner: string;
  readonly loser: string;
}

export async function backUpTwiceAtOnce(
  rgw: Rgw,
  bucket: string,
  prefix: string,
  image: string,
  password: string,
): Promise<RaceOutcome> {
  const agents = await Promise.all(
    [0, 1].map(async () => {
      const store = rgw.store(bucket, prefix);
      const repo = await Repository.open(new RetryingStore(store, { clock: systemClock }), password);
      const source = await ImageSource.open(image, "race-host");
      return { store, job: new SyncJob({ repo, source, clock: systemClock, log: silentLog }) };
    }),
  );
  const [first, second] = agents as [(typeof agents)[number], (typeof agents)[number]];
  try {
    for (const agent of agents) await agent.job.snapshot();
    for (const agent of agents) await agent.job.plan();
    for (const agent of agents) await agent.job.transfer();
    const outcomes: string[] = [];
    for (const agent of [first, second]) {
      outcomes.push(
        await agent.job.commit().then(
          () => "committed",
          (e: unknown) => (isLifeboatError(e) ? e.code : String(e)),
        ),
      );
    }
    return { winner: outcomes[0] ?? "", loser: outcomes[1] ?? "" };
  } finally {
    for (const agent of agents) {
      await agent.job.release();
      agent.store.destroy();
    }
  }
}
