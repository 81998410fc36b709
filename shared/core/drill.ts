/**
 * Restore drills: the record of one real restore of a cluster's archive, held against walwatch's own
 * prediction for the same target. The drill runner (`shared/drill/`) produces it; the store keeps a bounded
 * history of them per cluster; the report's `lastDrill`, the API, alerts, metrics and the dashboard read it.
 */

/** `verified`: PostgreSQL reached what walwatch predicted; `mismatch`: it reached something else;
 * `failed`: the restore did not reach consistency (or could not run). */
export type DrillVerdict = 'verified' | 'mismatch' | 'failed';

/** A recovery end point, as predicted from the archive or as reached by PostgreSQL. */
export interface DrillPoint {
  readonly timeline: number | null;
  /** The end of the last replayed record (reached) or of the recoverable WAL (predicted), `%X/%X`. */
  readonly lsn: string | null;
  /** The last completed transaction's commit or abort time, ISO 8601 with µs when known. */
  readonly lastCommitTime: string | null;
}

/** One drill's outcome. */
export interface DrillRecord {
  /** When the drill started, ISO 8601. */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly cluster: string;
  /** The target as asked: `latest`, an ISO time or an LSN. */
  readonly target: string;
  /** The base backup restored. */
  readonly backup: string | null;
  readonly verdict: DrillVerdict;
  readonly predicted: DrillPoint;
  readonly reached: DrillPoint;
  /** The consistency point PostgreSQL reported, `%X/%X`. */
  readonly consistentLsn: string | null;
  /** The single value `--check-sql` returned, as text. */
  readonly checkResult: string | null;
  /** Why the verdict is not `verified`, in words. */
  readonly reason: string | null;
  /** The PostgreSQL log tail when the drill failed. */
  readonly logTail: string | null;
  readonly downloadedBytes: number;
}
