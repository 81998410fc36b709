/**
 * Restore drills: the record of one real restore of a cluster's archive, held against walwatch's own
 * prediction for the same target. The drill runner (`shared/drill/`) produces it; the store keeps a bounded
 * history of them per cluster; the report's `lastDrill`, the API, alerts, metrics and the dashboard read it.
 */
import { isoSecondsOf, parseTime } from './time.js';

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
  /** How long each step took. */
  readonly timings?: DrillTimings;
  /** What the WAL prefetch did, when the drill prefetched. */
  readonly prefetch?: DrillPrefetch;
  /** What the reader should know beyond the verdict, e.g. that a target lay past the last commit. */
  readonly notes?: readonly string[];
}

/** Milliseconds spent downloading, unpacking and replaying. */
export interface DrillTimings {
  /** Time spent waiting for tar partitions: the next part downloads while one unpacks. */
  readonly downloadMs: number;
  readonly unpackMs: number;
  readonly replayMs: number;
}

/**
 * Segments of a drill's WAL prefetch: the drill downloads the segments its prediction says recovery reads
 * while PostgreSQL replays, and `restore_command` takes them from a local folder before asking the archive.
 */
export interface DrillPrefetch {
  /** Segments the prediction says recovery reads, within the archive as the prediction saw it. */
  readonly planned: number;
  /** Downloaded, decompressed and written to the prefetch folder. */
  readonly fetched: number;
  /** Taken by the server from the prefetch folder. */
  readonly served: number;
  /** Could not be read or decompressed: recovery fetched them itself. */
  readonly failed: number;
  /** Not in the archive: the prefetch stopped there, as recovery does. */
  readonly absent: number;
}

/** A prediction with the span of its last record: a reached end inside that record is the same point. */
export interface PredictedEnd extends DrillPoint {
  /** Start of the last record recovery replays, `%X/%X`. */
  readonly lastRecordLsn: string | null;
}

/**
 * Holds a reached point against the prediction: `verified` when the timeline is the same, the reached end
 * lies within the predicted last record (from its start to its end) and the last transaction time is the
 * same to the microsecond; otherwise `mismatch` with the values that differ.
 *
 * @example
 * judgeDrill({ timeline: 1, lsn: '0/3000100', lastRecordLsn: '0/30000C8', lastCommitTime: null },
 *   { timeline: 1, lsn: '0/3000100', lastCommitTime: null }) // { verdict: 'verified', reason: null }
 */
export function judgeDrill(
  predicted: PredictedEnd,
  reached: DrillPoint,
): { verdict: 'verified' | 'mismatch'; reason: string | null } {
  const differences: string[] = [];
  if (predicted.timeline !== reached.timeline)
    differences.push(`timeline: predicted ${predicted.timeline}, reached ${reached.timeline}`);
  const end = lsnValue(predicted.lsn);
  const start = lsnValue(predicted.lastRecordLsn) ?? end;
  const at = lsnValue(reached.lsn);
  if (end === undefined || start === undefined || at === undefined || at < start || at > end)
    differences.push(
      `end of WAL: predicted ${predicted.lsn} (last record from ${predicted.lastRecordLsn}), reached ${reached.lsn}`,
    );
  if (normalizeMicros(predicted.lastCommitTime) !== normalizeMicros(reached.lastCommitTime))
    differences.push(
      `last transaction: predicted ${predicted.lastCommitTime}, reached ${reached.lastCommitTime}`,
    );
  return differences.length === 0
    ? { verdict: 'verified', reason: null }
    : { verdict: 'mismatch', reason: differences.join('; ') };
}

function lsnValue(text: string | null): bigint | undefined {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text ?? '');
  return match ? (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`) : undefined;
}

/**
 * A time as ISO 8601 UTC with exactly six fraction digits, from ISO text or PostgreSQL's
 * `2026-12-03 06:41:01.12345+00`; `null` for `null`, the text itself when it cannot be read.
 */
export function normalizeMicros(text: string | null): string | null {
  if (text === null) return null;
  const match =
    /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
      text.trim(),
    );
  if (!match) return text;
  const zone = match[4] === undefined || /^z$/i.test(match[4]) ? 'Z' : normalizeZone(match[4]);
  const ms = parseTime(`${match[1]}T${match[2]}${zone}`);
  if (Number.isNaN(ms)) return text;
  const iso = isoSecondsOf(ms);
  if (iso === undefined) return text;
  return `${iso}.${(match[3] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
}

function normalizeZone(zone: string): string {
  const digits = zone.slice(1).replace(':', '');
  return `${zone[0]}${digits.slice(0, 2)}:${digits.slice(2, 4).padEnd(2, '0')}`;
}
