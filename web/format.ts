/// <reference lib="dom" />
/**
 * Formatting for people: ages ("12 min ago"), times in UTC, LSN and segment positions as numbers for the
 * chart, and the order in which statuses are shown (worst first).
 */

import type { DrillVerdict } from '../shared/core/drill.js';
import { parseLsn, parseWalFileName } from '../shared/core/lsn.js';
import type { Status } from '../shared/core/report.js';

/** Worst first: critical, then warning, then ok. */
export const STATUS_RANK: Readonly<Record<Status, number>> = { critical: 0, warning: 1, ok: 2 };

/** The label shown next to a status colour, so the colour is never the only signal. */
export const STATUS_LABEL: Readonly<Record<Status, string>> = {
  critical: 'Critical',
  warning: 'Warning',
  ok: 'OK',
};

/** Restore drill verdicts in words. */
export const DRILL_VERDICT_LABEL: Readonly<Record<DrillVerdict, string>> = {
  verified: 'Verified',
  mismatch: 'Mismatch',
  failed: 'Failed',
};

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400],
  ['h', 3_600],
  ['min', 60],
  ['s', 1],
];

/**
 * A duration in its two largest units: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
 *
 * @example formatDuration(3_725) // '1 h 2 min'
 */
export function formatDuration(seconds: number): string {
  let rest = Math.round(Math.abs(seconds));
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    const amount = Math.floor(rest / size);
    rest -= amount * size;
    if (amount > 0 && parts.length < 2) parts.push(`${amount} ${unit}`);
    // Stop after the largest unit's neighbour: "2 d 4 h", never "2 d 12 s".
    if (parts.length > 0 && parts.length < 2 && amount === 0) break;
  }
  return parts.length > 0 ? parts.join(' ') : '0 s';
}

/** An age as "12 min ago"; "—" when unknown; "in the future" for negative ages (clock skew). */
export function formatAgo(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds < 0) return `${formatDuration(seconds)} in the future`;
  if (seconds < 5) return 'just now';
  return `${formatDuration(seconds)} ago`;
}

/** A length of time such as the recovery point lag: "12 min"; "—" when unknown. */
export function formatLength(seconds: number | null): string {
  return seconds === null || !Number.isFinite(seconds) ? '—' : formatDuration(seconds);
}

/** The age of an ISO time at `nowMs`, in seconds; `null` when the time is unknown. */
export function ageSeconds(iso: string | null, nowMs: number): number | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : (nowMs - ms) / 1000;
}

/** An ISO time as `2026-11-24 15:00:12 UTC`: unambiguous, sortable, the same for every viewer. */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A byte count in binary units: `1.5 GiB`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * An LSN as a plain number for drawing. Positions above 2^53 lose their last bits, far below one pixel.
 * Returns `null` for text that is not an LSN.
 */
export function lsnPosition(text: string | null): number | null {
  if (text === null) return null;
  const lsn = parseLsn(text);
  return lsn === undefined ? null : Number(lsn);
}

/** Where a segment begins, as an LSN number; `null` when the name is not a segment of that size. */
export function segmentStartPosition(name: string, segmentSize: number): number | null {
  const parsed = parseWalFileName(name, segmentSize);
  return parsed.ok ? parsed.segno * segmentSize : null;
}

/** An LSN number back in PostgreSQL's text form (`0/5000028`). */
export function formatLsnPosition(position: number): string {
  const value = BigInt(Math.max(0, Math.round(position)));
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffff_ffffn).toString(16).toUpperCase()}`;
}
