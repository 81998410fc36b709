/**
 * Thresholds of the analysis, with the defaults of `../shared/spec/recoverability.md`.
 */

/** Tunable thresholds, all in milliseconds. */
export interface Thresholds {
  /** A hole near the head stays `pending` this long after the next segment arrived (WAL-G uploads in parallel). */
  readonly gapGraceMs: number;
  /** Backup parts without a sentinel are `in-progress` for this long, then `failed`. */
  readonly backupStaleAfterMs: number;
  /** Archive is stale when the newest segment is older: 2 × Spilo's `archive_timeout` of 1800 s. */
  readonly maxArchiveAgeMs: number;
  /** Backups are stale when the newest restorable one finished longer ago: Spilo backs up daily. */
  readonly maxBackupAgeMs: number;
}

/** The spec's defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  gapGraceMs: 5 * 60_000,
  backupStaleAfterMs: 24 * 3_600_000,
  maxArchiveAgeMs: 3_600_000,
  maxBackupAgeMs: 26 * 3_600_000,
};

/**
 * How far after `now` a stored time may lie and still be taken as it is: clocks of database hosts, S3 and
 * the monitor drift by seconds, and an upload may finish while an analysis runs. A time later than that is
 * clock skew (`clock-skew`): it is clamped to `now` for ages and earns no grace.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;

/** Commit facts read from a segment's content (when content reading is on). */
export interface SegmentCommit {
  readonly lastCommitTime: string;
  readonly lastCommitLsn: string;
}

/** Everything the analysis takes besides the cluster state. */
export interface AnalysisOptions {
  /** The time of the analysis, epoch ms: the core reads no clock. */
  readonly now: number;
  readonly thresholds?: Partial<Thresholds>;
  /** Gap ids an operator acknowledged: they stay listed but stop alerting. */
  readonly acknowledgedGaps?: ReadonlySet<string>;
  /** Newest commit inside a segment, when its content was read. */
  readonly segmentCommit?: (timeline: number, segno: number) => SegmentCommit | undefined;
}
