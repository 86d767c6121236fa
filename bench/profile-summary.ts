/**
 * Turns raw profiles into shares of time: V8 `.cpuprofile` files (the main JavaScript thread, what
 * `node --cpu-prof` records; native calls such as zstd or OpenSSL count against the JS function
 * that made them) and `perf report` output (every thread of the process tree, native symbols,
 * kernel included).
 */

import { readFile } from "node:fs/promises";

export interface Share {
  readonly name: string;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly categories: Share[];
  readonly top: Share[];
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<{ id: number; callFrame: { functionName: string; url: string } }>;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Ordered: the first rule whose function-name and URL patterns both match names the category. */
const JS_CATEGORIES: ReadonlyArray<[string, RegExp, RegExp]> = [
  ["waiting (idle: I/O, thread pool)", /^\(idle\)$/, /^$/],
  ["garbage collection", /^\(garbage collector\)$/, /^$/],
  ["V8 native, unattributed", /^\(program\)$/, /^$/],
  ["zstd (native calls)", /^#(compress|decompress)$/, /envelope\.ts$/],
  [
    "SHA-256 / HMAC (chunk ids, checksums)",
    /^(update|digest|createHash|createHmac|Hash|Hmac)$/,
    /crypto\/hash|^$/,
  ],
  [
    "AES-256-GCM",
    /^(update|final|setAAD|getAuthTag|setAuthTag|createCipheriv|createDecipheriv)$/,
    /crypto\/cipher/,
  ],
  ["HKDF per object key", /hkdf/i, /./],
  ["random salts and nonces", /^(randomFillSync|randomBytes)$/, /./],
  ["module loading and compiling (tsx, start-up)", /^(readFileUtf8|postMessage|MessageChannel)$/, /^$/],
  [
    "file I/O calls on the main thread (fs/promises)",
    /^(read|write|writeBuffer|writeString|open|openFileHandle|close|fstat|fsync|access|link|rename|stat|lstat|mkdir|unlink|readdir)$/,
    /^$|fs|promises/,
  ],
  [
    "module loading and compiling (tsx, start-up)",
    /./,
    /tsx|esbuild|node:modules|cjs-module-lexer|bootstrap|run_main|node:vm|source_map|event_target|node:worker/,
  ],
  ["npm packages (mostly their top-level code at load)", /./, /^node_modules\//],
  ["Lifeboat JavaScript (engine, formats, domain)", /./, /^src\//],
];

/** Self time per category and per function (top `limit`) of one `.cpuprofile`. */
export async function summarizeCpuProfile(path: string, limit = 12): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, { fn: string; url: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = frames.get(profile.samples[i] as number);
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame === undefined) continue;
    const url = frame.url
      .replace(/^.*\/(src|node_modules)\//, "$1/")
      .replace(/^file:\/\/.*\/bin\//, "bin/")
      .replace(/^node:internal\//, "node:");
    const key = `${frame.functionName || "(anonymous)"} ${url}`.trim();
    const entry = byFunction.get(key) ?? { fn: frame.functionName, url, us: 0 };
    entry.us += delta;
    byFunction.set(key, entry);
    total += delta;
  }
  const byCategory = new Map<string, number>();
  const perFunction = new Map<string, number>();
  for (const [key, { fn, url, us }] of byFunction) {
    const category =
      JS_CATEGORIES.find(([, fnRe, urlRe]) => fnRe.test(fn) && urlRe.test(url))?.[0] ??
      "other (Node internals)";
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    perFunction.set(key, us);
  }
  return {
    totalMs: total / 1000,
    categories: shares(byCategory, total),
    top: shares(perFunction, total).slice(0, limit),
  };
}

/** Ordered rules over "symbol [dso]" names (dso "kernel" for kernel symbols). */
const PERF_CATEGORIES: ReadonlyArray<[string, RegExp]> = [
  ["zstd", /^(ZSTD|HUF|FSE|HIST)_|\[binding\.node\]$/],
  ["SHA-256 / HMAC", /sha256|sha2_|SHA256|HMAC/],
  ["AES-GCM", /aesni|gcm|ghash|gfmul|clmul/i],
  ["scrypt (passphrase → key, once per command)", /scrypt/i],
  ["memcpy / memset / memcmp (copies, zero checks)", /^_*mem(cpy|move|set|cmp)|^__memcmp|^bcmp/],
  [
    "kernel: page cache copies, page faults",
    /^(copy_\w+|_copy_\w+|clear_page\w*|exc_page_fault|\w*handle_mm_fault|do_anonymous_page|filemap_\w+|folio_\w+|rep_movs\w*|alloc_pages\w*|unmap_page_range|zap_\w+)\b.*\[kernel\]$/,
  ],
  ["kernel: scheduling, locks, syscalls, fsync", /\[kernel\]$/],
  [
    "garbage collection",
    /Heap|Scavenge|MarkCompact|Sweeper|Evacuat|Marking|Minor|GCTracer|ConcurrentMark|GlobalHandles/,
  ],
  [
    "V8 parse / compile (start-up, JIT)",
    /Parser|Scanner|Compiler|compiler::|Bytecode|Preparse|Ast|Maglev|LineEnds|StringTable/,
  ],
  ["esbuild (tsx transform)", /\[esbuild\]$/],
  ["malloc / free", /^(malloc|_int_malloc|_int_free|cfree|free|unlink_chunk|realloc|calloc)\b/],
  [
    "JavaScript (JIT code, builtins)",
    /^(Builtins_|JS:|LazyCompile:|Function:|Interpreted|Sparkplug|Turbofan)|\[perf-\d+\.map\]$/,
  ],
];

/** Shares by category and the top symbols from `perf report --no-children --sort dso,sym -g none -t '\t'`. */
export function summarizePerfReport(text: string, limit = 15): ProfileSummary {
  const bySymbol = new Map<string, number>();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const [overhead, dso, symbol] = line.split("\t").map((s) => s.trim());
    const percent = Number.parseFloat(overhead ?? "");
    if (!Number.isFinite(percent)) continue;
    const kernel = dso === "[kernel.kallsyms]";
    const name = `${(symbol ?? "").replace(/^\[[.k]\]\s*/, "")} [${kernel ? "kernel" : (dso ?? "").replace(/^.*\//, "")}]`;
    bySymbol.set(name, (bySymbol.get(name) ?? 0) + percent);
    total += percent;
  }
  const byCategory = new Map<string, number>();
  for (const [name, percent] of bySymbol) {
    const category =
      PERF_CATEGORIES.find(([, re]) => re.test(name))?.[0] ?? "other native (V8 runtime, Node, libuv)";
    byCategory.set(category, (byCategory.get(category) ?? 0) + percent);
  }
  return {
    totalMs: Number.NaN,
    categories: shares(byCategory, total),
    top: shares(bySymbol, total).slice(0, limit),
  };
}

function shares(values: ReadonlyMap<string, number>, total: number): Share[] {
  return [...values.entries()]
    .map(([name, v]) => ({ name, percent: total === 0 ? 0 : (100 * v) / total }))
    .sort((a, b) => b.percent - a.percent);
}
