import { describe, expect, it } from 'vitest';
import { parseTime, timeError } from '../../../shared/core/time.js';

describe('parseTime', () => {
  it.each([
    ['2026-11-24T14:32:15Z', Date.UTC(2026, 10, 24, 14, 32, 15)],
    ['2026-11-24T14:32:15.123456Z', Date.UTC(2026, 10, 24, 14, 32, 15, 123)],
    ['2026-11-24T14:32:15+01:00', Date.UTC(2026, 10, 24, 13, 32, 15)],
    ['2026-11-24 14:32:15-02:30', Date.UTC(2026, 10, 24, 17, 2, 15)],
    ['2026-11-24T14:32Z', Date.UTC(2026, 10, 24, 14, 32)],
    ['2024-02-29T23:59:59Z', Date.UTC(2024, 1, 29, 23, 59, 59)],
    ['2000-02-29', Date.UTC(2000, 1, 29)],
    ['2026-12-31T00:00:00Z', Date.UTC(2026, 11, 31)],
  ])('reads %s', (text, ms) => {
    expect(parseTime(text)).toBe(ms);
    expect(timeError(text)).toBeUndefined();
  });

  it.each([
    ['2026-02-30T20:00:00Z', 'February 2026 has 28 days'],
    ['2026-02-29', 'February 2026 has 28 days'],
    ['1900-02-29T00:00:00Z', 'February 1900 has 28 days'],
    ['2026-04-31T00:00:00Z', 'April 2026 has 30 days'],
    ['2026-11-00T00:00:00Z', 'November 2026 has 30 days'],
    ['2026-13-01T00:00:00Z', 'there is no month 13'],
    ['2026-11-24T24:00:00Z', 'hours run from 00 to 23'],
    ['2026-11-24T24:00Z', 'hours run from 00 to 23'],
    ['2026-11-24T14:60:00Z', 'minutes run from 00 to 59'],
    ['2026-11-24T14:32:60Z', 'seconds run from 00 to 59'],
    ['2026-11-24T14:32:15+24:00', 'no such time zone offset'],
    ['yesterday', 'not an ISO 8601 time'],
    ['', 'not an ISO 8601 time'],
    ['Tue, 24 Nov 2026 14:32:15 GMT', 'not an ISO 8601 time'],
  ])('refuses %s instead of rolling it over', (text, reason) => {
    expect(parseTime(text)).toBeNaN();
    expect(timeError(text)).toContain(reason);
  });
});
