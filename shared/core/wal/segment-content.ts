/**
 * What reading one WAL segment tells: how far its valid WAL reaches in LSN and in time.
 */
import type { Lsn } from '../lsn.js';
import type { TimedRecord } from './record-facts.js';

/** A commit or an abort: what `recovery_target_time` looks at. */
export type TransactionEnd = Extract<TimedRecord, { kind: 'commit' | 'abort' }>;
/** A named restore point (`pg_create_restore_point`). */
export type RestorePoint = Extract<TimedRecord, { kind: 'restore-point' }>;
/** The record a promotion writes on the new timeline. */
export type EndOfRecovery = Extract<TimedRecord, { kind: 'end-of-recovery' }>;
/** A checkpoint record; its time has whole seconds only. */
export type Checkpoint = Extract<TimedRecord, { kind: 'checkpoint' }>;

/**
 * Why reading stopped.
 * - `segment-end`: valid WAL up to the last byte of the segment (a record may continue in the next one);
 * - `switch`: an `XLOG_SWITCH` record; the rest of the segment is padding;
 * - `end-of-wal`: a zeroed page, a zero record length or a stale (recycled) page — normal in a `.partial`
 *   file or a live `pg_wal` segment, suspicious in a complete archived segment;
 * - `invalid`: corrupt, truncated or foreign bytes; see `error`.
 */
export type SegmentEnd = 'segment-end' | 'switch' | 'end-of-wal' | 'invalid';

/** The summary of one segment. Records are counted in the segment where they end. */
export interface SegmentContent {
  /** File length in bytes. */
  readonly fileSize: number;
  /** `xlp_pageaddr` of the first page: the segment's start LSN. */
  readonly startLsn: Lsn | undefined;
  /** `xlp_tli` of the first page (for a new timeline's first segment, the parent's part keeps its TLI). */
  readonly timeline: number | undefined;
  /** `xlp_seg_size` from the long page header. */
  readonly segmentSize: number | undefined;
  /** `xlp_sysid`: the cluster's system identifier. */
  readonly systemIdentifier: bigint | undefined;
  /** `xlp_magic`. */
  readonly pageMagic: number | undefined;
  /** The PostgreSQL major version the magic belongs to. */
  readonly postgresVersion: number | undefined;

  /** The first record that starts in this segment. */
  readonly firstRecordLsn: Lsn | undefined;
  /** The last complete, valid record read (it may have started in the previous segment). */
  readonly lastRecordLsn: Lsn | undefined;
  /** The end of that record (not aligned): how far valid WAL reaches. */
  readonly endLsn: Lsn | undefined;
  /** Complete, valid records that end in this segment. */
  readonly recordCount: number;
  /** Their total length (`xl_tot_len`) in bytes. */
  readonly recordBytes: number;

  readonly commitCount: number;
  readonly abortCount: number;
  readonly firstCommit: TransactionEnd | undefined;
  readonly lastCommit: TransactionEnd | undefined;
  readonly lastAbort: TransactionEnd | undefined;
  /** The last commit or abort by LSN: the latest point `recovery_target_time` can aim at with this WAL. */
  readonly lastTransactionEnd: TransactionEnd | undefined;
  /** `firstCommit.time`, ISO 8601 with microseconds. */
  readonly firstCommitTime: string | undefined;
  /** `lastCommit.time`, ISO 8601 with microseconds. */
  readonly lastCommitTime: string | undefined;
  /** `lastCommit.timeMicros`: µs since the Unix epoch. */
  readonly lastCommitTimeMicros: bigint | undefined;
  readonly lastCommitLsn: Lsn | undefined;
  readonly restorePoints: readonly RestorePoint[];
  readonly endOfRecovery: EndOfRecovery | undefined;
  readonly lastCheckpoint: Checkpoint | undefined;

  readonly end: SegmentEnd;
  readonly endsWithSwitch: boolean;
  /**
   * How the segment's first bytes relate to the previous segment: `none` (a record starts right after the
   * header), `joined` (they completed a record carried over from the previous segment fed to the same
   * reader), `skipped` (they continue a record this reader never saw the start of).
   */
  readonly continuation: 'none' | 'joined' | 'skipped';
  /** A record that starts here and continues past the end of the segment: incomplete, not an error. */
  readonly incompleteRecord:
    | { readonly lsn: Lsn; readonly totalLength: number; readonly bytesRead: number }
    | undefined;
  /**
   * A record abandoned after a crash cut it off: PostgreSQL wrote `XLOG_OVERWRITE_CONTRECORD` where its end
   * should have been (known from that record, or from the previous segment when read in one stream).
   */
  readonly abandonedRecordLsn: Lsn | undefined;
  /** Clear text when the bytes are corrupt, truncated or foreign; reading stopped there. */
  readonly error: string | undefined;
  /** Where the problem was found. */
  readonly errorLsn: Lsn | undefined;
  /** Every record with a time, in LSN order, when the reader was asked to collect them. */
  readonly timedRecords: readonly TimedRecord[] | undefined;
}
