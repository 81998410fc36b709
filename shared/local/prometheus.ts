/**
 * The local monitor's `/metrics` in Prometheus' text exposition format: the freshness metrics the sweeper
 * sends to CloudWatch (one gauge per metric with a `cluster` label), problems by kind and severity (what
 * `deploy/prometheus/walwatch-rules.yml` alerts on), the backup and PITR facts WAL-G's exporters publish,
 * under walwatch's names (docs/alerts.md maps them side by side), and the newest restore drill's outcome.
 */
import { type ClusterMetrics, clusterMetrics, METRIC_NAMES } from '../core/metrics.js';
import type { BackupReport, ClusterReport } from '../core/report.js';

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

const STATUSES = ['ok', 'warning', 'critical'] as const;

type Labels = Readonly<Record<string, string>>;

/** One gauge family: its samples are added as label sets with values. */
class Gauge {
  private readonly samples: string[] = [];

  constructor(
    readonly name: string,
    private readonly help: string,
  ) {}

  add(labels: Labels, value: number): void {
    const text = Object.entries(labels)
      .map(([key, label]) => `${key}="${escapeLabel(label)}"`)
      .join(',');
    this.samples.push(`${this.name}{${text}} ${value}`);
  }

  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, ...this.samples];
  }
}

/** Seconds since the epoch of an ISO time, or `undefined`. */
function epochSeconds(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** WAL-G's exporter calls a backup `full` or `delta`. */
function backupType(backup: BackupReport): 'full' | 'delta' {
  return backup.delta ? 'delta' : 'full';
}

/**
 * Renders the metrics of every cluster at `now` (epoch ms), plus the fleet's status counts and the newest
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
    const gauge = new Gauge(name, help);
    for (const [cluster, values] of all) {
      const value = values[metric];
      if (value !== undefined) gauge.add({ cluster }, value);
    }
    lines.push(...gauge.render());
  }

  const status = new Gauge(
    'walwatch_cluster_status',
    "1 for the cluster's current status (ok, warning, critical), 0 for the others.",
  );
  const problems = new Gauge(
    'walwatch_problems',
    'Open problems of the cluster by kind and severity (the alert kinds; info problems included).',
  );
  const backups = new Gauge('walwatch_backups', 'Base backups of the cluster by status and type.');
  const info = new Gauge(
    'walwatch_backup_info',
    'One series per base backup, always 1; its facts are labels (as walg_backup_info).',
  );
  const started = new Gauge('walwatch_backup_start_timestamp_seconds', 'When the base backup started.');
  const finished = new Gauge(
    'walwatch_backup_finish_timestamp_seconds',
    'When the base backup finished (its consistency point was written).',
  );
  const compressed = new Gauge(
    'walwatch_backup_compressed_size_bytes',
    'Stored (compressed) size of the base backup.',
  );
  const uncompressed = new Gauge(
    'walwatch_backup_uncompressed_size_bytes',
    'Uncompressed size of the base backup.',
  );
  const latest = new Gauge(
    'walwatch_latest_recoverable_timestamp_seconds',
    'The latest point a restore reaches: its last commit time, else when its last segment was archived.',
  );
  const earliest = new Gauge(
    'walwatch_earliest_recoverable_timestamp_seconds',
    "The earliest point a restore reaches: the oldest restorable backup's consistency point.",
  );
  const window = new Gauge(
    'walwatch_pitr_window_seconds',
    'Seconds between the earliest and the latest recoverable point (0 without a restorable backup).',
  );
  const archived = new Gauge(
    'walwatch_last_archived_timestamp_seconds',
    'When the newest WAL segment was stored in the archive.',
  );
  const drilled = new Gauge(
    'walwatch_last_drill_timestamp_seconds',
    'When the newest restore drill of the cluster finished, Unix time.',
  );
  const timeline = new Gauge(
    'walwatch_target_timeline',
    'The timeline a restore to the latest point follows.',
  );

  for (const report of reports) {
    const cluster = report.id;
    for (const value of STATUSES) status.add({ cluster, status: value }, report.status === value ? 1 : 0);

    const byKind = new Map<string, number>();
    for (const problem of report.problems) {
      const key = `${problem.kind}\u0000${problem.severity}`;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
    }
    for (const [key, count] of [...byKind].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const [kind, severity] = key.split('\u0000') as [string, string];
      problems.add({ cluster, kind, severity }, count);
    }

    const byStatus = new Map<string, number>();
    for (const backup of report.backups) {
      const key = `${backup.status}\u0000${backupType(backup)}`;
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      const name = backup.name;
      info.add(
        {
          cluster,
          backup_name: name,
          backup_type: backupType(backup),
          status: backup.status,
          timeline: String(backup.timeline),
          start_lsn: backup.startLsn ?? '',
          finish_lsn: backup.finishLsn ?? '',
          is_permanent: String(backup.permanent),
          delta_origin: backup.delta?.parent ?? '',
          pg_version: backup.pgVersion === null ? '' : String(backup.pgVersion),
        },
        1,
      );
      const start = epochSeconds(backup.startTime);
      if (start !== undefined) started.add({ cluster, backup_name: name }, start);
      const finish = epochSeconds(backup.finishTime);
      if (finish !== undefined) finished.add({ cluster, backup_name: name }, finish);
      if (backup.compressedSize !== null)
        compressed.add({ cluster, backup_name: name }, backup.compressedSize);
      if (backup.uncompressedSize !== null)
        uncompressed.add({ cluster, backup_name: name }, backup.uncompressedSize);
    }
    for (const [key, count] of [...byStatus].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const [value, type] = key.split('\u0000') as [string, string];
      backups.add({ cluster, status: value, backup_type: type }, count);
    }

    const latestAt = epochSeconds(
      report.latestRecoverable?.lastCommitTime ?? report.latestRecoverable?.archivedAt,
    );
    const earliestAt = epochSeconds(report.earliestRecoverable?.time);
    if (latestAt !== undefined) latest.add({ cluster }, latestAt);
    if (earliestAt !== undefined) earliest.add({ cluster }, earliestAt);
    window.add(
      { cluster },
      latestAt !== undefined && earliestAt !== undefined ? Math.max(0, latestAt - earliestAt) : 0,
    );
    const lastArchived = epochSeconds(report.lastArchivedAt);
    if (lastArchived !== undefined) archived.add({ cluster }, lastArchived);
    timeline.add({ cluster }, report.targetTimeline);
    const drillFinished = epochSeconds(report.lastDrill?.finishedAt);
    if (drillFinished !== undefined) drilled.add({ cluster }, drillFinished);
  }

  const fleet = new Gauge('walwatch_clusters', 'Clusters of the fleet by status.');
  for (const value of STATUSES)
    fleet.add({ status: value }, reports.filter((r) => r.status === value).length);

  for (const gauge of [
    status,
    problems,
    backups,
    info,
    started,
    finished,
    compressed,
    uncompressed,
    latest,
    earliest,
    window,
    archived,
    timeline,
    drilled,
    fleet,
  ])
    lines.push(...gauge.render());
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
