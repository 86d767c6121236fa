/** Small statistics for benchmark samples: medians (robust on a shared, noisy machine) and spreads. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Jain's fairness index: 1 when every party got the same, 1/n when one got everything. */
export function jainIndex(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    sum += v;
    squares += v * v;
  }
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

/** "1.2×", or "—" when either side is missing. */
export function ratio(numerator: number, denominator: number, digits = 1): string {
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return "—";
  return `${(numerator / denominator).toFixed(digits)}×`;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** Decimal megabytes, the unit the peers and the figures use. */
export function mb(bytes: number, digits = 1): string {
  return Number.isFinite(bytes) ? (bytes / 1e6).toFixed(digits) : "—";
}
