/**
 * The smallest sound WAL segments: a PostgreSQL 15 long page header and one `XLOG_SWITCH` record with its
 * CRC-32C, then zeros — what a switch right after a segment start leaves — optionally after one commit
 * record. `walwatch sample` builds its archive from them, and tests of the content scan's and ingest's
 * bookkeeping use them; PostgreSQL-written WAL is used wherever the WAL itself is under test.
 */
import { segmentStartLsn } from '../core/lsn.js';
import { CRC32C_INIT, computeCrc32c, finishCrc32c, updateCrc32c } from '../core/wal/crc32c.js';
import { POSTGRES_EPOCH_UNIX_MICROS } from '../core/wal/timestamp.js';

/** Offset of the record's `xl_info` byte: change it to make the record fail its CRC. */
export const SWITCH_RECORD_INFO_OFFSET = 40 + 16;

/** A segment `segno` of `timeline` (1 unless given) of database system `systemIdentifier`. */
export function buildSwitchSegment(
  segno: number,
  segmentSize: number,
  systemIdentifier: bigint,
  timeline = 1,
): Uint8Array {
  const bytes = new Uint8Array(segmentSize);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0xd110, true); // XLOG_PAGE_MAGIC of PostgreSQL 15
  view.setUint16(2, 0x0002, true); // XLP_LONG_HEADER
  view.setUint32(4, timeline, true); // xlp_tli
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

/**
 * A segment holding one commit record at `commitTime` (Unix ms; `xl_xact_commit` with no other data), then
 * an `XLOG_SWITCH`. The commit's LSN is the segment start plus 40 (the long page header).
 */
export function buildCommitSegment(
  segno: number,
  segmentSize: number,
  systemIdentifier: bigint,
  commitTime: number,
  timeline = 1,
): Uint8Array {
  const bytes = buildSwitchSegment(segno, segmentSize, systemIdentifier, timeline);
  const view = new DataView(bytes.buffer);
  const start = segmentStartLsn(segno, segmentSize);
  const commit = 40;
  const commitLength = 24 + 2 + 8; // header, XLR_BLOCK_ID_DATA_SHORT with its length, xact_time
  bytes.fill(0, commit, commit + 64);
  view.setUint32(commit, commitLength, true);
  view.setUint32(commit + 4, 1000, true); // xl_xid
  bytes[commit + 16] = 0x00; // XLOG_XACT_COMMIT
  bytes[commit + 17] = 1; // RM_XACT_ID
  bytes[commit + 24] = 255; // XLR_BLOCK_ID_DATA_SHORT
  bytes[commit + 25] = 8;
  view.setBigInt64(commit + 26, BigInt(commitTime) * 1000n - POSTGRES_EPOCH_UNIX_MICROS, true);
  view.setUint32(commit + 20, recordCrc(bytes, commit, commitLength), true);
  const switchAt = commit + 40; // MAXALIGN(34)
  view.setUint32(switchAt, 24, true);
  view.setBigUint64(switchAt + 8, start + BigInt(commit), true); // xl_prev
  bytes[switchAt + 16] = 0x40; // XLOG_SWITCH
  bytes[switchAt + 17] = 0; // RM_XLOG_ID
  view.setUint32(switchAt + 20, recordCrc(bytes, switchAt, 24), true);
  return bytes;
}

/** PostgreSQL's record CRC: the data after the 24-byte header, then the header up to `xl_crc`. */
function recordCrc(bytes: Uint8Array, at: number, length: number): number {
  const data = updateCrc32c(CRC32C_INIT, bytes, at + 24, at + length);
  return finishCrc32c(updateCrc32c(data, bytes, at, at + 20));
}
