import { isoSecondsOf } from '../time.js';

/**
 * PostgreSQL timestamps found in WAL records.
 *
 * `TimestampTz` is a signed 64-bit count of microseconds since 2000-01-01 00:00:00 UTC; checkpoint records
 * use `pg_time_t`, Unix seconds. walwatch keeps Unix microseconds as `bigint` and prints ISO 8601 with six
 * fraction digits, so no precision is lost on the way to a report.
 */

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC). */
export const POSTGRES_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

/** Converts a `TimestampTz` (µs since 2000-01-01 UTC) to µs since the Unix epoch. */
export function unixMicrosOfTimestampTz(timestampTz: bigint): bigint {
  return timestampTz + POSTGRES_EPOCH_UNIX_MICROS;
}

/**
 * Formats µs since the Unix epoch as ISO 8601 UTC with microseconds.
 *
 * @example formatUnixMicros(1795530735485281n) // '2026-11-24T14:32:15.485281Z'
 */
export function formatUnixMicros(unixMicros: bigint): string {
  let seconds = unixMicros / 1_000_000n;
  let micros = unixMicros % 1_000_000n;
  if (micros < 0n) {
    micros += 1_000_000n;
    seconds -= 1n;
  }
  const whole = isoSecondsOf(Number(seconds) * 1000);
  if (whole === undefined) return `invalid timestamp ${unixMicros}µs`;
  return `${whole}.${micros.toString().padStart(6, '0')}Z`;
}
