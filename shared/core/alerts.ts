/**
 * Alerts: problems become notifications on transitions, once each. An alert is identified by
 * (cluster, kind, subject); it opens when its problem appears, escalates when its severity rises, and
 * resolves when the problem is gone. `info` problems never alert; acknowledged gaps produce no problem and
 * so no alert.
 */
import { formatDuration } from './analyze.js';
import type { GapOutcome } from './gap-history.js';
import type { ClusterReport, Problem, Severity } from './report.js';

/** An alert that is open for a cluster. */
export interface OpenAlert {
  readonly kind: string;
  readonly subject: string;
  readonly severity: Exclude<Severity, 'info'>;
  readonly message: string;
  /** Epoch ms when it opened. */
  readonly openedAt: number;
}

/** A notification to send. */
export interface AlertNotification {
  readonly id: string;
  readonly transition: 'opened' | 'escalated' | 'resolved';
  readonly alert: OpenAlert;
  readonly subject: string;
  readonly body: string;
}

/** The open alerts of a cluster by `alertKey`. */
export type OpenAlerts = Record<string, OpenAlert>;

/** The identity of an alert within a cluster. */
export function alertKey(problem: { kind: string; subject: string }): string {
  return `${problem.kind}|${problem.subject}`;
}

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/** What a notification may say beyond the report. */
export interface AlertContext {
  /** The API's base URL, for a link to the cluster's report. */
  readonly apiUrl?: string;
  /** How each closed gap closed, by gap id (the gap history's newest record of that id). */
  readonly closedGaps?: ReadonlyMap<string, GapOutcome>;
}

/**
 * Compares a cluster's open alerts with its current report: what to send and what stays open.
 *
 * @example
 * const { notifications, open } = diffAlerts(previous, report, Date.now(), { apiUrl });
 */
export function diffAlerts(
  previous: OpenAlerts,
  report: ClusterReport,
  now: number,
  links: AlertContext = {},
): { notifications: AlertNotification[]; open: OpenAlerts } {
  const open: OpenAlerts = {};
  const notifications: AlertNotification[] = [];
  const alerting = report.problems.filter(
    (p): p is Problem & { severity: 'warning' | 'critical' } => p.severity !== 'info',
  );
  for (const problem of alerting) {
    const key = alertKey(problem);
    const before = previous[key];
    if (before && RANK[problem.severity] <= RANK[before.severity]) {
      open[key] = { ...before, message: problem.message };
      continue;
    }
    const alert: OpenAlert = {
      kind: problem.kind,
      subject: problem.subject,
      severity: problem.severity,
      message: problem.message,
      openedAt: before?.openedAt ?? now,
    };
    open[key] = alert;
    notifications.push(render(before ? 'escalated' : 'opened', alert, report, now, links));
  }
  for (const [key, alert] of Object.entries(previous)) {
    if (!(key in open)) notifications.push(render('resolved', alert, report, now, links));
  }
  return { notifications, open };
}

function render(
  transition: AlertNotification['transition'],
  alert: OpenAlert,
  report: ClusterReport,
  now: number,
  links: AlertContext,
): AlertNotification {
  const state = transition === 'resolved' ? 'RESOLVED' : alert.severity.toUpperCase();
  const lines = [
    transition === 'resolved'
      ? `Resolved after ${formatDuration(now - alert.openedAt)}${resolution(alert, report, links.closedGaps)}: ${alert.message}`
      : `${transition === 'escalated' ? 'Escalated to ' : ''}${alert.severity}: ${alert.message}`,
    '',
    `Cluster:               ${report.id}${report.scope ? ` (scope ${report.scope}${report.pgMajor ? `, PostgreSQL ${report.pgMajor}` : ''})` : ''}`,
    `Status now:            ${report.status}`,
    `Latest recoverable:    ${report.latestRecoverable ? `${report.latestRecoverable.lsn} on timeline ${report.latestRecoverable.timeline} (${report.latestRecoverable.lastCommitTime ?? `archived ${report.latestRecoverable.archivedAt}`})` : 'none'}`,
    `Earliest recoverable:  ${report.earliestRecoverable ? `${report.earliestRecoverable.lsn} (${report.earliestRecoverable.backup})` : 'none'}`,
    `Last WAL archived:     ${report.lastArchivedAt ?? 'never'}${report.archiveAgeSeconds === null ? '' : ` (${formatDuration(report.archiveAgeSeconds * 1000)} ago)`}`,
    `Open gaps:             ${
      report.gaps
        .filter((g) => g.status === 'lost')
        .map((g) => `${g.firstSegment}…${g.lastSegment}`)
        .join(', ') || 'none'
    }`,
  ];
  if (transition !== 'resolved')
    lines.push('', `What to do: ${ADVICE[alert.kind] ?? 'look at the cluster report for details.'}`);
  if (links.apiUrl)
    lines.push('', `Report: ${links.apiUrl.replace(/\/$/, '')}/clusters/${encodeURIComponent(report.id)}`);
  return {
    id: `${report.id}|${alertKey(alert)}|${transition}|${transition === 'resolved' ? now : alert.openedAt}|${alert.severity}`,
    transition,
    alert,
    subject: snsSubject(`[walwatch] ${state} ${report.id}: ${alert.kind} ${shortSubject(alert.subject)}`),
    body: `${lines.join('\n')}\n`,
  };
}

/**
 * Why a gap alert closed: an operator accepted the gap, or the gap is gone — `filled` (its segments arrived)
 * or out of range (still absent, but no backup needs them), as the gap history recorded it.
 */
function resolution(
  alert: OpenAlert,
  report: ClusterReport,
  closedGaps: ReadonlyMap<string, GapOutcome> | undefined,
): string {
  if (alert.kind !== 'wal-gap') return '';
  const gap = report.gaps.find((g) => g.id === alert.subject);
  if (gap?.status === 'acknowledged') return ' (acknowledged by an operator)';
  if (gap !== undefined) return '';
  const outcome = closedGaps?.get(alert.subject);
  if (outcome === 'filled') return ' (filled: the missing segments are archived now)';
  if (outcome === 'out-of-range')
    return ' (out of range: the segments are still absent, but no backup needs them any more)';
  return ' (filled: the segments are archived now, or no backup needs them any more)';
}

const ADVICE: Record<string, string> = {
  'wal-gap':
    'check the archiver on the primary (pg_stat_archiver.failed_count, the wal-g logs); if the segment is still in pg_wal, archive it again with wal-g wal-push. Take a new base backup to restore recoverability past the gap, then acknowledge the gap.',
  'archive-stale':
    "check that PostgreSQL is running and archive_command succeeds (pg_stat_archiver, wal-g logs, S3 credentials); an idle database writes no WAL and archives nothing, so give it a heartbeat: SpiloCluster nodes run one (walHeartbeatInterval), elsewhere run SELECT pg_logical_emit_message(false, 'walwatch', 'heartbeat') on the primary every few minutes.",
  'backup-stale':
    "check the backup cron job and the latest backup-push log; Spilo's postgres_backup.sh runs on the primary only.",
  'no-restorable-backup':
    'take a base backup now (wal-g backup-push, or postgres_backup.sh on Spilo) and check its WAL reaches the archive.',
  'wal-deleted':
    'find what deleted it (S3 server access logs or CloudTrail data events, lifecycle rules, a retention job); restore the previous object version if the bucket is versioned.',
  'wal-overwritten':
    'two servers may be archiving the same timeline (split brain); check which node is primary and the object versions of this key.',
  'wal-corrupt':
    'if the primary still has the segment in pg_wal (or a standby does), archive that good copy again with wal-g wal-push (it replaces the object; walwatch re-reads it); otherwise take a new base backup so recoverability resumes after it.',
  'missing-history':
    'archive the timeline history file from the new primary (pg_wal/<timeline>.history) with wal-g wal-push.',
  'history-invalid': 'replace the history object with the file from the primary pg_wal directory.',
  'orphan-partial':
    'a promotion left a .partial segment but no newer timeline: check that the new primary archives its history file.',
  'backup-failed':
    'look at the backup-push log of that night; delete the garbage with wal-g delete garbage once understood.',
  'sentinel-invalid': 'the backup sentinel cannot be read; treat that backup as unusable and take a new one.',
  'backup-missing-wal': 'the WAL that backup needs to become consistent is missing; take a new base backup.',
  'backup-broken-chain': 'the delta backup lost its parent; take a new full backup.',
  'clock-skew':
    "compare the database hosts' clocks with NTP (timedatectl, chronyc tracking); a file's time can be reset with touch. Until the time is no longer in the future, archive and backup ages count as zero.",
  'drill-failed':
    'read the drill record (GET /clusters/{id}/drills: reason and PostgreSQL log tail); a missing or corrupt object it names needs the same care as a WAL gap or a broken backup, a drill that could not start (binaries, disk, permissions) needs fixing on the drill host or task. Run walwatch drill by hand to retry.',
  'drill-mismatch':
    "PostgreSQL recovered to a different point than walwatch predicted: trust the drill, not the prediction. Compare predicted and reached in the drill record; look for objects walwatch believes present but that are gone or unreadable (wal-deleted, wal-corrupt), and keep the drill's log (walwatch drill --keep).",
  'drill-stale':
    "no restore drill has verified the archive within the threshold: check that drills run (walwatch serve --drill-every and its start-up line; on AWS the drill task's schedule and its log group) and that the last ones did not fail.",
  'segment-size-mismatch':
    'check the size initdb used (pg_controldata: Bytes per WAL segment): fix or remove a wrong segment size override (WALWATCH_SEGMENT_SIZE, --segment-size, segmentSize); walwatch detects the size when none is set.',
};

/** Every problem kind walwatch alerts on with advice, for the Prometheus rules and the docs that must cover them. */
export const ALERT_KINDS: readonly string[] = Object.keys(ADVICE);

/** A gap id names its first and last segment; the subject line has room for the first only. */
function shortSubject(subject: string): string {
  const gap = /^([0-9A-F]{24})-([0-9A-F]{24})$/.exec(subject);
  if (!gap) return subject;
  return gap[1] === gap[2] ? (gap[1] as string) : `from ${gap[1]}`;
}

/** SNS subjects: ASCII, no control characters, under 100 characters. */
export function snsSubject(text: string): string {
  const ascii = text.normalize('NFKD').replace(/[^\x20-\x7E]/g, '?');
  return ascii.length <= 99 ? ascii : `${ascii.slice(0, 96)}...`;
}
