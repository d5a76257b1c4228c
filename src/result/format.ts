/**
 * The one rounding of every result format, and CSV field quoting: boxes and landmarks to 0.1 px, scores,
 * probabilities and seconds to 4 decimals. Photo, video and timeline documents all round through here, so a figure
 * reads the same wherever it comes from. Browser-safe, pure.
 */

/** Pixel positions and sizes: 0.1 px. */
export const roundPx = (v: number): number => Math.round(v * 10) / 10;
/** Scores, probabilities and other 0..1 figures: 4 decimals. */
export const roundUnit = (v: number): number => Math.round(v * 1e4) / 1e4;

/** Any record of 0..1 figures (group shares, means), rounded, keys in their own order. */
export function unitRecordJson<K extends string>(record: Record<K, number>): Record<K, number> {
  return Object.fromEntries(Object.entries<number>(record).map(([k, v]) => [k, roundUnit(v)])) as Record<K, number>;
}

/** A CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
export function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
