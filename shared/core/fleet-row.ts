/**
 * The fleet summary row of one cluster: what `GET /clusters` lists, small enough (about 1 KB) that a page
 * of rows is a few KB, and made of times rather than ages so that it stays right between analyses. Ages
 * are derived from the times at answer time (`fleetRowAges`); the times only change when the state
 * does, and the status only at a threshold crossing (`nextCrossingAt`), when the sweeper rewrites it.
 */
import type { Thresholds } from './config.js';
import { DEFAULT_THRESHOLDS } from './config.js';
import type { DrillVerdict } from './drill.js';
import type { ClusterReport, EarliestRecoverable, LatestRecoverable, Problem, Status } from './report.js';
import { type ClusterState, summarizeParts } from './state.js';
import { isoOf, parseTime } from './time.js';

/** One cluster in the fleet summary; every time is ISO 8601 text, every count a whole number. */
export interface FleetRow {
  readonly id: string;
  readonly scope: string | null;
  readonly uid: string | null;
  readonly pgMajor: string | null;
  readonly status: Status;
  /** The first problem of the highest severity (info included when nothing is worse); `null` when none. */
  readonly worstProblem: Problem | null;
  readonly latestRecoverable: LatestRecoverable | null;
  readonly earliestRecoverable: EarliestRecoverable | null;
  /** What the recovery point lag is measured from: the last commit time when read, else the archive time. */
  readonly recoveryPointAt: string | null;
  /** When the newest WAL segment was stored. */
  readonly lastArchivedAt: string | null;
  /** When the newest restorable backup finished. */
  readonly lastBackupAt: string | null;
  /** Problems above `info`. */
  readonly problems: number;
  readonly criticalProblems: number;
  /** Lost gaps, and the segments they miss. */
  readonly gaps: number;
  readonly lostGapSegments: number;
  readonly pendingGaps: number;
  readonly backups: number;
  readonly restorableBackups: number;
  /** When the analysis this row comes from ran. */
  readonly analyzedAt: string;
  /** The newest restore drill, `null` without drills (absent in rows written before drills were kept). */
  readonly lastDrill?: FleetRowDrill | null;
}

/** What a fleet row keeps of the newest restore drill (see `LastDrillReport`). */
export interface FleetRowDrill {
  readonly finishedAt: string;
  readonly verdict: DrillVerdict;
  readonly lastVerifiedAt: string | null;
}

/** A row with its ages at answer time, in seconds (`null` where the time is unknown). */
export interface FleetRowWithAges extends FleetRow {
  readonly archiveAgeSeconds: number | null;
  readonly backupAgeSeconds: number | null;
  readonly recoveryPointLagSeconds: number | null;
}

/** Status order of the fleet list: worst first. */
export const STATUS_RANK: Readonly<Record<Status, number>> = { critical: 0, warning: 1, ok: 2 };

const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;

/**
 * The summary row of an analysed cluster.
 *
 * @example
 * const row = summarizeFleetRow(analyzeCluster(state, { now }), now);
 * fleetRowAges(row, now + 60_000).archiveAgeSeconds; // one minute more than the report's
 */
export function summarizeFleetRow(report: ClusterReport, now: number): FleetRow {
  let worstProblem: Problem | null = null;
  for (const problem of report.problems) {
    if (worstProblem === null || SEVERITY_RANK[problem.severity] < SEVERITY_RANK[worstProblem.severity])
      worstProblem = problem;
  }
  const lrp = report.latestRecoverable;
  const evidence = lrp ? (lrp.lastCommitTime ?? lrp.archivedAt) : null;
  let newestBackup: number | null = null;
  for (const backup of report.backups) {
    if (backup.status !== 'restorable' || backup.finishTime === null) continue;
    const at = parseTime(backup.finishTime);
    if (!Number.isNaN(at) && (newestBackup === null || at > newestBackup)) newestBackup = at;
  }
  const lost = report.gaps.filter((gap) => gap.status === 'lost');
  return {
    id: report.id,
    scope: report.scope,
    uid: report.uid,
    pgMajor: report.pgMajor,
    status: report.status,
    worstProblem,
    latestRecoverable: lrp,
    earliestRecoverable: report.earliestRecoverable,
    recoveryPointAt: evidence === null ? null : normalizedTime(evidence),
    lastArchivedAt: report.lastArchivedAt,
    lastBackupAt: newestBackup === null ? null : isoOf(newestBackup),
    problems: report.problems.filter((p) => p.severity !== 'info').length,
    criticalProblems: report.problems.filter((p) => p.severity === 'critical').length,
    gaps: lost.length,
    lostGapSegments: lost.reduce((sum, gap) => sum + gap.count, 0),
    pendingGaps: report.gaps.filter((gap) => gap.status === 'pending').length,
    backups: report.backups.length,
    restorableBackups: report.backups.filter((backup) => backup.status === 'restorable').length,
    analyzedAt: isoOf(now),
    lastDrill: report.lastDrill
      ? {
          finishedAt: report.lastDrill.finishedAt,
          verdict: report.lastDrill.verdict,
          lastVerifiedAt: report.lastDrill.lastVerifiedAt,
        }
      : null,
  };
}

/**
 * Ages of a row at `now`, computed as the analysis computes them (`(now - time) / 1000`, zero for a time
 * in the future: clock skew never makes an age negative).
 */
export function fleetRowAges(row: FleetRow, now: number): FleetRowWithAges {
  const age = (time: string | null): number | null => {
    if (time === null) return null;
    const at = parseTime(time);
    return Number.isNaN(at) ? null : Math.max(0, now - at) / 1000;
  };
  return {
    ...row,
    archiveAgeSeconds: age(row.lastArchivedAt),
    backupAgeSeconds: age(row.lastBackupAt),
    recoveryPointLagSeconds: age(row.recoveryPointAt),
  };
}

/** The time a row's lag is measured from, in epoch ms; 0 when there is none (an unknown lag sorts first). */
export function recoveryPointMs(row: FleetRow): number {
  if (row.recoveryPointAt === null) return 0;
  const at = parseTime(row.recoveryPointAt);
  return Number.isNaN(at) ? 0 : Math.min(Math.max(0, at), 999_999_999_999_999);
}

/**
 * The order of the fleet list as one string: status (worst first), then the longest recovery point lag
 * (the oldest recovery point first, so the order does not change as time passes), then the id.
 */
export function fleetOrderKey(row: FleetRow): string {
  return `${STATUS_RANK[row.status]}#${String(recoveryPointMs(row)).padStart(15, '0')}#${row.id.toLowerCase()}`;
}

/** Whether a row matches the filters of a fleet query (see `FleetFilter`). */
export function matchesFleetFilter(row: FleetRow, filter: FleetFilter): boolean {
  if (filter.status && filter.status.length > 0 && !filter.status.includes(row.status)) return false;
  if (filter.scope !== undefined && (row.scope === null || !row.scope.startsWith(filter.scope))) return false;
  if (filter.q !== undefined && !row.id.toLowerCase().includes(filter.q.toLowerCase())) return false;
  return true;
}

/** Filters of `GET /clusters`. */
export interface FleetFilter {
  /** Any of these statuses. */
  readonly status?: readonly Status[];
  /** The Spilo scope starts with this (clusters without a scope never match). */
  readonly scope?: string;
  /** The cluster id contains this, ignoring case. */
  readonly q?: string;
}

/** Counts of clusters per status. */
export interface FleetCounts {
  readonly critical: number;
  readonly warning: number;
  readonly ok: number;
  readonly total: number;
}

/** Counts per status of some rows. */
export function countFleetRows(rows: Iterable<FleetRow>): FleetCounts {
  const counts = { critical: 0, warning: 0, ok: 0, total: 0 };
  for (const row of rows) {
    counts[row.status] += 1;
    counts.total += 1;
  }
  return counts;
}

/**
 * The next time at or after `now` when analysing the unchanged `state` can give another answer than
 * `report` (apart from ages): the archive turning stale, the newest restorable backup turning stale, a
 * pending gap's grace ending, a backup upload without a sentinel turning failed. `null` when nothing
 * changes with time alone. `report` must be `analyzeCluster(state, { now, thresholds })`.
 */
export function nextCrossingAt(
  state: ClusterState,
  report: ClusterReport,
  now: number,
  thresholds: Partial<Thresholds> = {},
): number | null {
  const limits: Thresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const candidates: number[] = [];
  // archive-stale: `now - newest > maxArchiveAge`.
  if (state.newest) candidates.push(state.newest.at + limits.maxArchiveAgeMs + 1);
  // backup-stale: `now - finish > maxBackupAge` for the newest restorable backup.
  const row = summarizeFleetRow(report, now);
  if (row.lastBackupAt !== null) candidates.push(parseTime(row.lastBackupAt) + limits.maxBackupAgeMs + 1);
  // A gap is pending while `now - nextSegmentStoredAt < gapGrace`.
  for (const gap of report.gaps) {
    if (gap.status !== 'pending' || gap.nextSegmentStoredAt === null) continue;
    candidates.push(parseTime(gap.nextSegmentStoredAt) + limits.gapGraceMs);
  }
  // A backup without sentinel is in progress while `now - newestPart < backupStaleAfter`.
  for (const backup of Object.values(state.backups)) {
    if (backup.sentinel) continue;
    const newestPart = Math.max(summarizeParts(backup).newestAt ?? 0, backup.metadata?.at ?? 0);
    candidates.push(newestPart + limits.backupStaleAfterMs);
  }
  let next: number | null = null;
  for (const at of candidates) {
    if (Number.isFinite(at) && at > now && (next === null || at < next)) next = at;
  }
  return next;
}

function normalizedTime(text: string): string {
  const at = parseTime(text);
  return Number.isNaN(at) ? text : isoOf(at);
}
