/**
 * PostgreSQL log sequence numbers and WAL segment arithmetic.
 *
 * LSNs are 64-bit byte positions, so they are `bigint` everywhere: a `number` loses exactness above 2^53.
 * Segment numbers (`segno`) fit a `number`: at most 2^32 × 4096 = 2^44.
 * Facts: `../shared/reference/walg-layout.md` §4.1–4.2 (`xlog_internal.h`, `xlogdefs.h`).
 */

/** A 64-bit WAL position. */
export type Lsn = bigint;

/** Smallest and largest valid `wal_segment_size` (PostgreSQL `IsValidWalSegSize`). */
export const MIN_SEGMENT_SIZE = 1024 * 1024;
export const MAX_SEGMENT_SIZE = 1024 * 1024 * 1024;
/** The size initdb uses unless told otherwise, and Spilo's. */
export const DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const TWO_TO_32 = 0x1_0000_0000;

/** Whether `size` is a power of two between 1 MiB and 1 GiB. */
export function isValidSegmentSize(size: number): boolean {
  return (
    Number.isInteger(size) &&
    size >= MIN_SEGMENT_SIZE &&
    size <= MAX_SEGMENT_SIZE &&
    (size & (size - 1)) === 0
  );
}

/** Segments per "xlogid" (the middle field of a WAL file name): `2^32 / segmentSize`. */
export function segmentsPerXLogId(segmentSize: number): number {
  return TWO_TO_32 / segmentSize;
}

/**
 * Parses PostgreSQL's `%X/%X` text form, accepting any case and zero padding (`0/5000028`, `0/05000028`).
 * Returns `undefined` for anything else.
 */
export function parseLsn(text: string): Lsn | undefined {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/**
 * Formats an LSN as PostgreSQL prints it: `%X/%X`, uppercase, no padding.
 *
 * @example formatLsn(0x5000028n) // '0/5000028'
 */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** The segment holding byte `lsn` (`XLByteToSeg`). */
export function segmentOfLsn(lsn: Lsn, segmentSize: number): number {
  return Number(lsn / BigInt(segmentSize));
}

/** The segment holding the byte just before `lsn` (`XLByteToPrevSeg`): used for record ends such as stop points. */
export function segmentBeforeLsn(lsn: Lsn, segmentSize: number): number {
  return Number((lsn - 1n) / BigInt(segmentSize));
}

/** The LSN of the first byte of segment `segno`. */
export function segmentStartLsn(segno: number, segmentSize: number): Lsn {
  return BigInt(segno) * BigInt(segmentSize);
}

/** A WAL segment identified by its timeline and segment number. */
export interface SegmentId {
  readonly timeline: number;
  readonly segno: number;
}

/**
 * The 24-hex file name of a segment (`XLogFileName`).
 *
 * @example walFileName(1, 0x0e, 16 * 1024 * 1024) // '00000001000000000000000E'
 */
export function walFileName(timeline: number, segno: number, segmentSize: number): string {
  const perId = segmentsPerXLogId(segmentSize);
  return hex8(timeline) + hex8(Math.floor(segno / perId)) + hex8(segno % perId);
}

/** Outcome of reading a 24-hex name with a given segment size. */
export type WalFileNameParse =
  | { readonly ok: true; readonly timeline: number; readonly segno: number }
  | { readonly ok: false; readonly reason: 'not-a-wal-name' | 'segment-out-of-range' };

/**
 * Reads a 24-hex WAL file name. A name whose low field is not below `2^32 / segmentSize` cannot be a
 * segment of a cluster with that segment size (`segment-out-of-range`).
 */
export function parseWalFileName(name: string, segmentSize: number): WalFileNameParse {
  // Hand-rolled rather than a regex: this runs once per listed segment, a million times per large archive.
  const timeline = name.length === 24 ? readHex8(name, 0) : -1;
  const log = timeline === -1 ? -1 : readHex8(name, 8);
  const seg = log === -1 ? -1 : readHex8(name, 16);
  if (seg === -1) return { ok: false, reason: 'not-a-wal-name' };
  const perId = segmentsPerXLogId(segmentSize);
  if (seg >= perId) return { ok: false, reason: 'segment-out-of-range' };
  return { ok: true, timeline, segno: log * perId + seg };
}

/** Whether `name` is a 24-digit uppercase hex WAL file name (`IsXLogFileName`). */
export function isWalFileName(name: string): boolean {
  return (
    name.length === 24 && readHex8(name, 0) !== -1 && readHex8(name, 8) !== -1 && readHex8(name, 16) !== -1
  );
}

/** Reads eight uppercase hex digits at `offset`; -1 when any is not one. */
function readHex8(text: string, offset: number): number {
  let value = 0;
  for (let i = offset; i < offset + 8; i++) {
    const code = text.charCodeAt(i);
    // '0'-'9' are 48-57, 'A'-'F' are 65-70: PostgreSQL names use uppercase only.
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 65 && code <= 70 ? code - 55 : -1;
    if (digit === -1) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** Eight uppercase hex digits, as PostgreSQL's `%08X`. */
export function hex8(value: number): string {
  return value.toString(16).toUpperCase().padStart(8, '0');
}
