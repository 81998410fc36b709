/**
 * The smallest sound WAL segment: a PostgreSQL 15 long page header and one `XLOG_SWITCH` record with its
 * CRC-32C, then zeros — what a switch right after a segment start leaves. For tests of the content scan's
 * bookkeeping; PostgreSQL-written WAL is used wherever the WAL itself is under test.
 */
import { segmentStartLsn } from '../../shared/core/lsn.js';
import { computeCrc32c } from '../../shared/core/wal/crc32c.js';

/** Offset of the record's `xl_info` byte: change it to make the record fail its CRC. */
export const SWITCH_RECORD_INFO_OFFSET = 40 + 16;

/** A segment `segno` of timeline 1 of database system `systemIdentifier`. */
export function buildSwitchSegment(segno: number, segmentSize: number, systemIdentifier: bigint): Uint8Array {
  const bytes = new Uint8Array(segmentSize);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xd110, true); // XLOG_PAGE_MAGIC of PostgreSQL 15
  view.setUint16(2, 0x0002, true); // XLP_LONG_HEADER
  view.setUint32(4, 1, true); // timeline
  view.setBigUint64(8, segmentStartLsn(segno, segmentSize), true);
  view.setBigUint64(24, systemIdentifier, true);
  view.setUint32(32, segmentSize, true);
  view.setUint32(36, 8192, true);
  const record = 40;
  view.setUint32(record, 24, true); // xl_tot_len: a header without data
  bytes[record + 16] = 0x40; // XLOG_SWITCH
  bytes[record + 17] = 0; // RM_XLOG_ID
  view.setUint32(record + 20, computeCrc32c(bytes, record, record + 20), true);
  return bytes;
}
