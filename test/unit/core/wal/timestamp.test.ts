import { describe, expect, it } from 'vitest';
import { formatUnixMicros, unixMicrosOfTimestampTz } from '../../../../shared/core/wal/timestamp.js';

describe('unixMicrosOfTimestampTz', () => {
  it('returns Unix microseconds for a TimestampTz that pg_waldump printed as 2026-11-24 14:32:15.485281 UTC', () => {
    // walg-layout.md §4.9: xact_time 848845935485281 from a PostgreSQL 15.18 commit record.
    const unix = unixMicrosOfTimestampTz(848845935485281n);
    expect(unix).toBe(BigInt(Date.parse('2026-11-24T14:32:15Z')) * 1000n + 485281n);
  });
});

describe('formatUnixMicros', () => {
  it.each([
    [0n, '1970-01-01T00:00:00.000000Z'],
    [1n, '1970-01-01T00:00:00.000001Z'],
    [-1n, '1969-12-31T23:59:59.999999Z'],
    [946684800000000n, '2000-01-01T00:00:00.000000Z'],
  ])('returns ISO 8601 with microseconds for %s', (micros, text) => {
    expect(formatUnixMicros(micros)).toBe(text);
  });
});
