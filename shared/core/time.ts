/**
 * Time values of the core: conversions between epoch milliseconds and ISO 8601 text, and nothing else.
 * The core reads no clock — callers pass `now` in — so this is the one file allowed to touch `Date`
 * (a lint rule keeps `Date` out of the rest of the core).
 */

/** ISO 8601 UTC with milliseconds for an epoch-milliseconds value. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * An ISO 8601 / RFC 3339 date or date-time: `2026-11-24`, `2026-11-24T14:32`, `2026-11-24T14:32:15.123456Z`,
 * `2026-11-24 14:32:15+01:00`. Groups: year, month, day, hour, minute, second, zone.
 */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Why a text is not an ISO 8601 / RFC 3339 time, or `undefined` when it is one. Calendar fields are checked
 * as written, so an impossible date is refused instead of rolling over (`2026-02-30` is not 2 March), and
 * `24:00`, minute 60 and second 60 are refused too.
 *
 * @example
 * timeError('2026-02-30T20:00:00Z') // '2026-02-30T20:00:00Z is not a date: February 2026 has 28 days'
 */
export function timeError(text: string): string | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return `${text} is not an ISO 8601 time such as 2026-11-24T14:32:15Z`;
  const field = (index: number): number => Number(match[index] ?? 0);
  const [year, month, day, hour, minute, second] = [
    field(1),
    field(2),
    field(3),
    field(4),
    field(5),
    field(6),
  ];
  const zone = match[7];
  if (month < 1 || month > 12) return `${text} is not a date: there is no month ${match[2]}`;
  const days = daysIn(year, month);
  if (day < 1 || day > days) return `${text} is not a date: ${MONTHS[month - 1]} ${year} has ${days} days`;
  if (hour > 23) return `${text} is not a time: hours run from 00 to 23`;
  if (minute > 59) return `${text} is not a time: minutes run from 00 to 59`;
  if (second > 59) return `${text} is not a time: seconds run from 00 to 59`;
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const digits = zone.replace(':', '');
    if (Number(digits.slice(1, 3)) > 23 || (digits.length > 3 && Number(digits.slice(3)) > 59))
      return `${text} has no such time zone offset: ${zone}`;
  }
  return undefined;
}

/**
 * Epoch milliseconds of an ISO 8601 / RFC 3339 time; `NaN` when the text is not one, impossible calendar
 * dates and times included ({@link timeError} says why). A date alone is midnight UTC; a date-time without
 * a zone is local time, as in ECMAScript.
 */
export function parseTime(text: string): number {
  if (timeError(text) !== undefined) return Number.NaN;
  return Date.parse(text.replace(' ', 'T'));
}

/** ISO 8601 UTC to the second (`2026-11-24T14:32:15`), for callers appending their own fraction. */
export function isoSecondsOf(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 19);
}
