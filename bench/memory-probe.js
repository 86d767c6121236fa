// Preloaded into a CLI run (`node --import ./bench/memory-probe.js bin/lifeboat.js …`): samples
// process.memoryUsage() every 10 ms and, at exit, writes the peak of each part to the file named
// by LIFEBOAT_BENCH_MEMORY_OUT, so the report can say where a command's RSS goes (V8 heap, buffers
// outside it, or neither: code, the loader thread, native allocations). Plain JS: it loads before tsx.
import { writeFileSync } from "node:fs";
import process from "node:process";
import { setInterval } from "node:timers";

const out = process.env.LIFEBOAT_BENCH_MEMORY_OUT;
const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };

function sample() {
  const m = process.memoryUsage();
  for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], m[key]);
}

setInterval(sample, 10).unref();
process.on("exit", () => {
  sample();
  if (out) writeFileSync(out, JSON.stringify({ ...peak, maxRss: process.resourceUsage().maxRSS * 1024 }));
});
