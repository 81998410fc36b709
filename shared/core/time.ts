/**
 * Time values of the core: conversions between epoch milliseconds and ISO 8601 text, and nothing else.
 * The core reads no clock — callers pass `now` in — so this is the one file allowed to touch `Date`
 * (a lint rule keeps `Date` out of the rest of the core).
 */

/** ISO 8601 UTC with milliseconds for an epoch-milliseconds value. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/** Epoch milliseconds of an ISO 8601 / RFC 3339 time; `NaN` when the text is not one. */
export function parseTime(text: string): number {
  return Date.parse(text);
}

/** ISO 8601 UTC to the second (`2026-11-24T14:32:15`), for callers appending their own fraction. */
export function isoSecondsOf(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 19);
}
