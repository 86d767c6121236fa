import fc from "fast-check";

// Every property test runs on a fixed seed, so CI is replayable; FC_SEED=random hunts with new ones.
const seed = process.env.FC_SEED;
if (seed !== "random") fc.configureGlobal({ seed: Number(seed ?? 20261122) });
