/**
 * The freshness and restore drill metrics in Prometheus' text exposition format, for the local monitor's `/metrics`: the
 * same values the sweeper sends to CloudWatch, one gauge per metric with a `cluster` label.
 */
import { type ClusterMetrics, clusterMetrics, METRIC_NAMES } from '../core/metrics.js';
import type { ClusterReport } from '../core/report.js';

const HELP: Record<(typeof METRIC_NAMES)[number], [name: string, help: string]> = {
  ArchiveAgeSeconds: ['walwatch_archive_age_seconds', 'Seconds since the newest WAL segment was archived.'],
  BackupAgeSeconds: [
    'walwatch_backup_age_seconds',
    'Seconds since the newest restorable base backup finished.',
  ],
  RecoveryPointLagSeconds: [
    'walwatch_recovery_point_lag_seconds',
    'Seconds between now and the latest recoverable point (its last commit, or when its segment was archived).',
  ],
  LostGapSegments: ['walwatch_lost_gap_segments', 'WAL segments missing in lost gaps.'],
  CriticalProblems: ['walwatch_critical_problems', 'Critical problems of the cluster.'],
  LastDrillAgeSeconds: [
    'walwatch_last_drill_age_seconds',
    'Seconds since the newest restore drill of the cluster finished.',
  ],
  LastDrillVerified: [
    'walwatch_last_drill_verified',
    "1 when the newest restore drill reached walwatch's predicted point, 0 when it failed or mismatched.",
  ],
};

/**
 * Renders the metrics of every cluster at `now` (epoch ms), plus a status gauge per cluster and the newest
 * restore drill's finish time (`walwatch_last_drill_timestamp_seconds`, for `time() - …` alerts).
 */
export function renderPrometheus(reports: readonly ClusterReport[], now: number): string {
  const lines: string[] = [];
  const all: Array<[string, ClusterMetrics]> = reports.map((report) => [
    report.id,
    clusterMetrics(report, now),
  ]);
  for (const metric of METRIC_NAMES) {
    const [name, help] = HELP[metric];
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [cluster, values] of all) {
      const value = values[metric];
      if (value !== undefined) lines.push(`${name}{cluster="${escapeLabel(cluster)}"} ${value}`);
    }
  }
  lines.push(
    "# HELP walwatch_cluster_status 1 for the cluster's current status (ok, warning, critical).",
    '# TYPE walwatch_cluster_status gauge',
  );
  for (const report of reports) {
    for (const status of ['ok', 'warning', 'critical'] as const) {
      lines.push(
        `walwatch_cluster_status{cluster="${escapeLabel(report.id)}",status="${status}"} ${report.status === status ? 1 : 0}`,
      );
    }
  }
  lines.push(
    '# HELP walwatch_last_drill_timestamp_seconds When the newest restore drill of the cluster finished, Unix time.',
    '# TYPE walwatch_last_drill_timestamp_seconds gauge',
  );
  for (const report of reports) {
    const finished = report.lastDrill ? Date.parse(report.lastDrill.finishedAt) : Number.NaN;
    if (Number.isFinite(finished))
      lines.push(
        `walwatch_last_drill_timestamp_seconds{cluster="${escapeLabel(report.id)}"} ${finished / 1000}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
