/**
 * The cluster report: the JSON contract of `../shared/spec/report.md`, returned by the CLI (`--json`),
 * the API and the local monitor. Field names are fixed; fields may be added.
 */

import type { LastDrillReport } from './drill-status.js';
import type { SegmentSizeSource } from './segment-size.js';

/** Overall health, the worst severity of a cluster's problems. */
export type Status = 'ok' | 'warning' | 'critical';

/** Problem severities; `info` problems are reported but never change the status. */
export type Severity = 'info' | 'warning' | 'critical';

export interface TimelineReport {
  readonly id: number;
  readonly parent: number | null;
  readonly switchLsn: string | null;
  readonly firstSegment: string | null;
  readonly lastSegment: string | null;
  readonly segments: number;
  /** `ok` when its history was read (or it is timeline 1), else `missing` or `invalid`. */
  readonly history: 'ok' | 'missing' | 'invalid';
  /** Whether the timeline is on the path to the target timeline. */
  readonly inLineage: boolean;
}

export type BackupStatus =
  | 'restorable'
  | 'missing-wal'
  | 'broken-chain'
  | 'in-progress'
  | 'failed'
  | 'invalid';

export interface BackupReport {
  readonly name: string;
  readonly timeline: number;
  readonly startSegment: string;
  readonly startLsn: string | null;
  readonly finishLsn: string | null;
  readonly startTime: string | null;
  readonly finishTime: string | null;
  readonly status: BackupStatus;
  readonly permanent: boolean;
  readonly delta: {
    readonly parent: string;
    readonly full: string | null;
    readonly count: number | null;
  } | null;
  readonly compressedSize: number | null;
  readonly uncompressedSize: number | null;
  readonly systemIdentifier: string | null;
  readonly pgVersion: number | null;
  /** When its sentinel was stored (the time `wal-g backup-list` shows and Spilo's clone picks by). */
  readonly sentinelStoredAt: string | null;
  /** Why the backup is not restorable, in words; `null` when it is. */
  readonly reason: string | null;
}

export type GapStatus = 'pending' | 'lost' | 'acknowledged' | 'filled';

export interface GapReport {
  readonly id: string;
  readonly timeline: number;
  readonly firstSegment: string;
  readonly lastSegment: string;
  readonly count: number;
  readonly status: GapStatus;
  readonly severity: 'warning' | 'critical';
  /** When the first segment after the gap was stored: the gap is `lost` once that is `gapGrace` old. */
  readonly nextSegmentStoredAt: string | null;
}

export interface EarliestRecoverable {
  readonly backup: string;
  readonly timeline: number;
  readonly lsn: string;
  readonly time: string | null;
}

export interface LatestRecoverable {
  readonly backup: string;
  readonly timeline: number;
  readonly segment: string;
  readonly lsn: string;
  readonly archivedAt: string | null;
  readonly lastCommitTime: string | null;
  readonly lastCommitLsn: string | null;
}

export interface RecoverableInterval {
  readonly timeline: number;
  readonly fromLsn: string;
  readonly toLsn: string;
  readonly fromTime: string | null;
  readonly toTime: string | null;
  /** The backups whose recovery chains make up the interval, oldest first. */
  readonly backups: string[];
}

export interface Problem {
  readonly kind: string;
  readonly severity: Severity;
  readonly subject: string;
  readonly message: string;
}

export interface ClusterReport {
  readonly id: string;
  readonly scope: string | null;
  readonly uid: string | null;
  readonly pgMajor: string | null;
  readonly segmentSize: number;
  /**
   * Where `segmentSize` comes from: `configured` (an override), `backup-label`, `sentinel`, `page-header` or
   * `object-size`
   * (detected from the archive), or `assumed` (16 MiB until the archive tells).
   */
  readonly segmentSizeSource: SegmentSizeSource;
  readonly status: Status;
  readonly targetTimeline: number;
  readonly timelines: TimelineReport[];
  readonly backups: BackupReport[];
  readonly gaps: GapReport[];
  readonly earliestRecoverable: EarliestRecoverable | null;
  readonly latestRecoverable: LatestRecoverable | null;
  readonly recoverableIntervals: RecoverableInterval[];
  readonly archiveAgeSeconds: number | null;
  readonly backupAgeSeconds: number | null;
  readonly recoveryPointLagSeconds: number | null;
  /** The highest segment present on the target timeline's lineage (where gap checking ends). */
  readonly headSegment: string | null;
  readonly lastArchivedAt: string | null;
  /** Present segments older than the oldest backup: retention information, never gaps. */
  readonly unreferencedSegments: number;
  /** Segments of ancestor timelines past their switch point (an old primary's tail): informational. */
  readonly divergedSegments: number;
  readonly problems: Problem[];
  /**
   * The newest restore drill of the cluster (`null` when none ran), where the report comes from a store
   * that keeps drills (the API, the local monitor); absent from reports of the archive alone (CLI).
   */
  readonly lastDrill?: LastDrillReport | null;
}

export interface Report {
  readonly generatedAt: string;
  readonly clusters: ClusterReport[];
}
