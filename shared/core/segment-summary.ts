/**
 * The stored summary of one archived WAL segment, and what it says about recovery.
 *
 * A `SegmentContent` (the reader's full result) becomes a small, JSON-safe `SegmentSummary` — LSNs as
 * `X/Y` text, times as ISO text, the system identifier as decimal text — that the content scan keeps per
 * segment. {@link judgeSegment} then decides whether recovery can read the segment to its end: corrupt
 * or zeroed bytes, a header naming another segment, another segment size or another database system all
 * stop recovery inside it.
 */
import { formatLsn, segmentStartLsn } from './lsn.js';
import type { ClusterState } from './state.js';
import type { SegmentContent, SegmentEnd } from './wal/segment-content.js';

/** What one segment holds, as stored (`GET /clusters/{id}/segments/{name}`). */
export interface SegmentSummary {
  /** Decompressed length in bytes. */
  readonly fileSize: number;
  readonly startLsn: string | null;
  readonly timeline: number | null;
  readonly segmentSize: number | null;
  /** `xlp_sysid` in decimal: the database system the segment belongs to. */
  readonly systemIdentifier: string | null;
  readonly postgresVersion: number | null;
  readonly firstRecordLsn: string | null;
  readonly lastRecordLsn: string | null;
  /** How far valid WAL reaches in this segment. */
  readonly endLsn: string | null;
  readonly recordCount: number;
  readonly recordBytes: number;
  readonly commitCount: number;
  readonly abortCount: number;
  readonly firstCommitTime: string | null;
  readonly lastCommitTime: string | null;
  readonly lastCommitLsn: string | null;
  /** The last commit or abort: the latest `recovery_target_time` this segment's WAL reaches. */
  readonly lastTransactionEnd: {
    readonly kind: 'commit' | 'abort';
    readonly lsn: string;
    readonly time: string;
  } | null;
  readonly restorePoints: readonly { readonly name: string; readonly lsn: string; readonly time: string }[];
  readonly end: SegmentEnd;
  readonly endsWithSwitch: boolean;
  readonly error: string | null;
  readonly errorLsn: string | null;
}

/** What the content scan stored for one segment (`w#…` items). */
export interface StoredSegmentSummary {
  readonly clusterId: string;
  readonly timeline: number;
  readonly segno: number;
  /** The object that was read (full key) and its ETag. */
  readonly key: string;
  readonly etag: string | null;
  /** When that object was stored (S3 event time or listing's LastModified; a file's mtime), epoch ms. */
  readonly objectAt: number;
  /** When it was read, epoch ms. */
  readonly readAt: number;
  /** `null` when the object could not be read or decompressed (`readError` says why). */
  readonly summary: SegmentSummary | null;
  readonly readError: string | null;
  /** Why recovery cannot read it to the end; `null` for a sound segment. */
  readonly defect: SegmentDefect | null;
}

/** Why recovery cannot read a segment to its end. */
export interface SegmentDefect {
  readonly kind: 'corrupt' | 'zeroed' | 'wrong-segment' | 'wrong-size' | 'foreign';
  readonly message: string;
  /** Where replay stops: the end of the last valid record, or the segment's start. */
  readonly stopLsn: string;
}

/** What the segment's name and the cluster promise its content to be. */
export interface SegmentExpectation {
  readonly timeline: number;
  readonly segno: number;
  readonly segmentSize: number;
  /** The cluster's system identifier, when known (decimal text). */
  readonly systemIdentifier?: string | null;
}

const text = (lsn: bigint | undefined): string | null => (lsn === undefined ? null : formatLsn(lsn));

/** The JSON-safe summary of a reader result. */
export function summarizeSegment(content: SegmentContent): SegmentSummary {
  const last = content.lastTransactionEnd;
  return {
    fileSize: content.fileSize,
    startLsn: text(content.startLsn),
    timeline: content.timeline ?? null,
    segmentSize: content.segmentSize ?? null,
    systemIdentifier: content.systemIdentifier === undefined ? null : content.systemIdentifier.toString(),
    postgresVersion: content.postgresVersion ?? null,
    firstRecordLsn: text(content.firstRecordLsn),
    lastRecordLsn: text(content.lastRecordLsn),
    endLsn: text(content.endLsn),
    recordCount: content.recordCount,
    recordBytes: content.recordBytes,
    commitCount: content.commitCount,
    abortCount: content.abortCount,
    firstCommitTime: content.firstCommitTime ?? null,
    lastCommitTime: content.lastCommitTime ?? null,
    lastCommitLsn: text(content.lastCommitLsn),
    lastTransactionEnd: last ? { kind: last.kind, lsn: formatLsn(last.lsn), time: last.time } : null,
    restorePoints: content.restorePoints.map((point) => ({
      name: point.name,
      lsn: formatLsn(point.lsn),
      time: point.time,
    })),
    end: content.end,
    endsWithSwitch: content.endsWithSwitch,
    error: content.error ?? null,
    errorLsn: text(content.errorLsn),
  };
}

/**
 * Whether recovery reads the segment to its end, and if not, why and where it stops. An archived segment
 * is complete: valid WAL must reach its last byte or end in `XLOG_SWITCH` (whose padding is zeros).
 * Returns `undefined` for a sound segment.
 */
export function judgeSegment(
  summary: SegmentSummary,
  expected: SegmentExpectation,
): SegmentDefect | undefined {
  const start = formatLsn(segmentStartLsn(expected.segno, expected.segmentSize));
  if (summary.segmentSize !== null && summary.segmentSize !== expected.segmentSize) {
    return {
      kind: 'wrong-size',
      message: `its header says ${summary.segmentSize}-byte segments, the cluster uses ${expected.segmentSize}`,
      stopLsn: start,
    };
  }
  if (summary.startLsn !== null && summary.startLsn !== start) {
    return {
      kind: 'wrong-segment',
      message: `its first page belongs at ${summary.startLsn}, not ${start}: the file holds another segment`,
      stopLsn: start,
    };
  }
  if (
    expected.systemIdentifier &&
    summary.systemIdentifier !== null &&
    summary.systemIdentifier !== expected.systemIdentifier
  ) {
    return {
      kind: 'foreign',
      message: `it belongs to database system ${summary.systemIdentifier}, the cluster is ${expected.systemIdentifier}`,
      stopLsn: start,
    };
  }
  if (summary.end === 'invalid') {
    return {
      kind: 'corrupt',
      message: summary.error ?? 'unreadable WAL',
      stopLsn: summary.endLsn ?? summary.errorLsn ?? start,
    };
  }
  if (summary.end === 'end-of-wal') {
    return {
      kind: 'zeroed',
      message: `valid WAL ends at ${summary.endLsn ?? start}, before the end of the segment (zeroed or stale pages)`,
      stopLsn: summary.endLsn ?? start,
    };
  }
  return undefined;
}

/**
 * The database system a cluster's WAL must belong to: the one the newest backup's sentinel names (WAL-G
 * writes `SystemIdentifier` since v0.2.13). `null` when no sentinel names one — then no segment is judged
 * foreign. A cluster initialised again under the same prefix takes its new identifier with its first backup.
 */
export function expectedSystemIdentifier(state: ClusterState): string | null {
  let newest: { time: string; finish: bigint; id: string } | undefined;
  for (const backup of Object.values(state.backups)) {
    const parse = backup.sentinel?.parse;
    if (!parse?.ok || parse.value.systemIdentifier === null) continue;
    const candidate = {
      time: parse.value.finishTime ?? '',
      finish: BigInt(parse.value.finishLsn ?? '0'),
      id: parse.value.systemIdentifier,
    };
    if (
      newest === undefined ||
      candidate.time > newest.time ||
      (candidate.time === newest.time && candidate.finish > newest.finish)
    )
      newest = candidate;
  }
  return newest?.id ?? null;
}
