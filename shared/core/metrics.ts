/**
 * The freshness and restore drill metrics of a cluster, the same on CloudWatch and on the local monitor's
 * `/metrics`.
 */
import { type FleetRow, fleetRowAges } from './fleet-row.js';
import type { ClusterReport } from './report.js';
import { parseTime } from './time.js';

/** Metric names and their values for one cluster (a metric without a value is omitted). */
export interface ClusterMetrics {
  readonly ArchiveAgeSeconds?: number;
  readonly BackupAgeSeconds?: number;
  readonly RecoveryPointLagSeconds?: number;
  readonly LostGapSegments: number;
  readonly CriticalProblems: number;
  /** Seconds since the newest restore drill finished (clusters with drills only). */
  readonly LastDrillAgeSeconds?: number;
  /** 1 when the newest restore drill verified walwatch's prediction, 0 otherwise (clusters with drills only). */
  readonly LastDrillVerified?: number;
}

/** Metric names, in the order they are documented. */
export const METRIC_NAMES = [
  'ArchiveAgeSeconds',
  'BackupAgeSeconds',
  'RecoveryPointLagSeconds',
  'LostGapSegments',
  'CriticalProblems',
  'LastDrillAgeSeconds',
  'LastDrillVerified',
] as const;

/** The metrics of one cluster report; the drill metrics need `now` (epoch ms) and the report's `lastDrill`. */
export function clusterMetrics(report: ClusterReport, now?: number): ClusterMetrics {
  const metrics: { -readonly [K in keyof ClusterMetrics]: ClusterMetrics[K] } = {
    LostGapSegments: report.gaps
      .filter((gap) => gap.status === 'lost')
      .reduce((sum, gap) => sum + gap.count, 0),
    CriticalProblems: report.problems.filter((problem) => problem.severity === 'critical').length,
  };
  if (report.archiveAgeSeconds !== null) metrics.ArchiveAgeSeconds = report.archiveAgeSeconds;
  if (report.backupAgeSeconds !== null) metrics.BackupAgeSeconds = report.backupAgeSeconds;
  if (report.recoveryPointLagSeconds !== null)
    metrics.RecoveryPointLagSeconds = report.recoveryPointLagSeconds;
  Object.assign(metrics, drillMetrics(report.lastDrill ?? null, now));
  return metrics;
}

/** The drill metrics of a cluster's newest drill; the age needs `now` (epoch ms). */
function drillMetrics(
  lastDrill: Pick<NonNullable<ClusterReport['lastDrill']>, 'finishedAt' | 'verdict'> | null,
  now: number | undefined,
): Pick<ClusterMetrics, 'LastDrillAgeSeconds' | 'LastDrillVerified'> {
  if (!lastDrill) return {};
  const finished = parseTime(lastDrill.finishedAt);
  return {
    LastDrillVerified: lastDrill.verdict === 'verified' ? 1 : 0,
    ...(now !== undefined && Number.isFinite(finished)
      ? { LastDrillAgeSeconds: Math.max(0, Math.round((now - finished) / 1000)) }
      : {}),
  };
}

/**
 * Fleet-wide maxima without the cluster dimension, so one alarm covers clusters discovered after
 * deployment. A cluster with no restorable backup has no backup age; it shows in `CriticalProblems`
 * (`no-restorable-backup` is critical).
 */
export function fleetMetrics(reports: readonly ClusterReport[], now?: number): ClusterMetrics {
  return fleetMaxima(reports.map((report) => clusterMetrics(report, now)));
}

/** The metrics of a fleet summary row at `now`: those of its report, aged to `now`. */
export function fleetRowMetrics(row: FleetRow, now: number): ClusterMetrics {
  const aged = fleetRowAges(row, now);
  const metrics: { -readonly [K in keyof ClusterMetrics]: ClusterMetrics[K] } = {
    LostGapSegments: row.lostGapSegments,
    CriticalProblems: row.criticalProblems,
  };
  if (aged.archiveAgeSeconds !== null) metrics.ArchiveAgeSeconds = aged.archiveAgeSeconds;
  if (aged.backupAgeSeconds !== null) metrics.BackupAgeSeconds = aged.backupAgeSeconds;
  if (aged.recoveryPointLagSeconds !== null) metrics.RecoveryPointLagSeconds = aged.recoveryPointLagSeconds;
  Object.assign(metrics, drillMetrics(row.lastDrill ?? null, now));
  return metrics;
}

/** Fleet-wide maxima of per-cluster metrics (see `fleetMetrics`). */
export function fleetMaxima(all: readonly ClusterMetrics[]): ClusterMetrics {
  const max = (name: keyof ClusterMetrics): number | undefined => {
    const values = all.map((m) => m[name]).filter((v): v is number => v !== undefined);
    // A loop, not `Math.max(...values)`: a fleet of 100,000 clusters would overflow the argument list.
    return values.length === 0 ? undefined : values.reduce((a, b) => Math.max(a, b));
  };
  const fleet: { -readonly [K in keyof ClusterMetrics]: ClusterMetrics[K] } = {
    LostGapSegments: max('LostGapSegments') ?? 0,
    CriticalProblems: max('CriticalProblems') ?? 0,
  };
  const archive = max('ArchiveAgeSeconds');
  if (archive !== undefined) fleet.ArchiveAgeSeconds = archive;
  const lag = max('RecoveryPointLagSeconds');
  if (lag !== undefined) fleet.RecoveryPointLagSeconds = lag;
  const backup = max('BackupAgeSeconds');
  if (backup !== undefined) fleet.BackupAgeSeconds = backup;
  // The oldest last drill and whether every drilled cluster's last drill verified (the minimum).
  const drillAge = max('LastDrillAgeSeconds');
  if (drillAge !== undefined) fleet.LastDrillAgeSeconds = drillAge;
  const verified = all.map((m) => m.LastDrillVerified).filter((v): v is number => v !== undefined);
  if (verified.length > 0) fleet.LastDrillVerified = verified.reduce((a, b) => Math.min(a, b));
  return fleet;
}

/**
 * How many clusters have each status. Fleet-wide, without a dimension: shards of one sweep each emit their
 * own counts and CloudWatch's `Sum` over the minute adds them up.
 */
export interface StatusCounts {
  readonly ClustersCritical: number;
  readonly ClustersWarning: number;
  readonly ClustersOk: number;
}

/** Names of the status counts, in the order they are documented. */
export const STATUS_COUNT_NAMES = ['ClustersCritical', 'ClustersWarning', 'ClustersOk'] as const;

/** The status counts as metrics, from the fleet counts of some rows. */
export function statusCountMetrics(counts: {
  readonly critical: number;
  readonly warning: number;
  readonly ok: number;
}): StatusCounts {
  return { ClustersCritical: counts.critical, ClustersWarning: counts.warning, ClustersOk: counts.ok };
}

/** What a sweep (or one shard of it) emits without the `Cluster` dimension. */
export type FleetMetrics = ClusterMetrics & StatusCounts;
