// Small pure statistics for the benchmark: every figure it prints is one of these.

/** The q-quantile (0..1) of the values by the nearest-rank method; null for no values. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export const median = (values: readonly number[]): number | null => quantile(values, 0.5);
export const p95 = (values: readonly number[]): number | null => quantile(values, 0.95);

export function mean(values: readonly number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/** a - b, or null when either is missing. */
export function minus(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  return a - b;
}

/** Rounds for output: 3 significant decimals for small figures, fewer for large ones. */
export function round(v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Milliseconds between two ISO times (b - a). */
export function msBetween(a: string, b: string): number {
  return Date.parse(b) - Date.parse(a);
}
