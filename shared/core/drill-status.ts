/**
 * What a cluster's drill history means for its report: the `lastDrill` field, and the problems
 * `drill-failed`, `drill-mismatch` (critical, from the newest drill) and `drill-stale` (warning: no verified
 * drill within a threshold, only for clusters where drills are configured). The problems go through the
 * same alert machinery as every other problem, so each opens and resolves once.
 */
import { formatDuration } from './analyze.js';
import type { DrillPoint, DrillRecord, DrillVerdict } from './drill.js';
import type { ClusterReport, Problem, Status } from './report.js';
import { parseTime } from './time.js';

/** How many drills the store keeps per cluster; older ones are deleted as new ones are written. */
export const DRILL_HISTORY = 30;

/** The subject of every drill problem: one alert per kind and cluster, whatever the target. */
export const DRILL_SUBJECT = 'restore-drill';

/** Default `drill-stale` threshold: three daily drills in a row did not verify. */
export const DEFAULT_DRILL_STALE_AFTER_MS = 72 * 3_600_000;

/** The report's summary of the newest drill. */
export interface LastDrillReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The target as asked: `latest`, an ISO time or an LSN. */
  readonly target: string;
  readonly backup: string | null;
  readonly verdict: DrillVerdict;
  /** The end point walwatch predicted from the archive. */
  readonly predicted: DrillPoint;
  /** The end point PostgreSQL reached. */
  readonly reached: DrillPoint;
  readonly reason: string | null;
  /** When the newest `verified` drill of the kept history finished; `null` when none did. */
  readonly lastVerifiedAt: string | null;
}

/** Where drills are expected for a cluster, so that their absence is a problem. */
export interface DrillExpectation {
  /** `drill-stale` once no drill has verified for this long. */
  readonly staleAfterMs: number;
  /**
   * Epoch ms from which to count when no drill was ever recorded (the local monitor's start); without it a
   * cluster that never had a drill has no `drill-stale` problem.
   */
  readonly since?: number;
}

/** The newest drill and the last verified time, or `null` without drills. `drills` is newest first. */
export function summarizeDrills(drills: readonly DrillRecord[]): LastDrillReport | null {
  const last = drills[0];
  if (!last) return null;
  const verified = drills.find((drill) => drill.verdict === 'verified');
  return {
    startedAt: last.startedAt,
    finishedAt: last.finishedAt,
    target: last.target,
    backup: last.backup,
    verdict: last.verdict,
    predicted: last.predicted,
    reached: last.reached,
    reason: last.reason,
    lastVerifiedAt: verified?.finishedAt ?? null,
  };
}

/**
 * The drill problems of a cluster at `now`. `drills` is newest first; `expectation` is set where drills are
 * configured for the cluster.
 *
 * @example
 * drillProblems(drills, parseTime('2026-12-03T06:00:00Z'), { staleAfterMs: 72 * 3_600_000 })
 */
export function drillProblems(
  drills: readonly DrillRecord[],
  now: number,
  expectation?: DrillExpectation,
): Problem[] {
  const problems: Problem[] = [];
  const last = drills[0];
  if (last?.verdict === 'failed') {
    problems.push({
      kind: 'drill-failed',
      severity: 'critical',
      subject: DRILL_SUBJECT,
      message: `the restore drill of ${last.startedAt} (target ${last.target}${last.backup ? `, backup ${last.backup}` : ''}) failed: ${last.reason ?? 'no reason recorded'}`,
    });
  } else if (last?.verdict === 'mismatch') {
    problems.push({
      kind: 'drill-mismatch',
      severity: 'critical',
      subject: DRILL_SUBJECT,
      message: `the restore drill of ${last.startedAt} (target ${last.target}${last.backup ? `, backup ${last.backup}` : ''}) reached ${formatPoint(last.reached)}, walwatch predicted ${formatPoint(last.predicted)}${last.reason ? `: ${last.reason}` : ''}`,
    });
  }
  if (expectation) {
    const verified = drills.find((drill) => drill.verdict === 'verified');
    const from = staleClockStart(drills, expectation);
    if (from !== undefined && Number.isFinite(from) && now - from > expectation.staleAfterMs) {
      problems.push({
        kind: 'drill-stale',
        severity: 'warning',
        subject: DRILL_SUBJECT,
        message: verified
          ? `no restore drill has verified the archive for ${formatDuration(now - from)} (last verified ${verified.finishedAt})`
          : `no restore drill has verified the archive in ${formatDuration(now - from)}${drills.length > 0 ? ` (${drills.length} drill(s) recorded, none verified)` : ''}`,
      });
    }
  }
  return problems;
}

/**
 * The next time after `now` when `drillProblems` answers otherwise with no new drill: the moment
 * `drill-stale` opens. `null` when drills are not expected or the problem is already open.
 */
export function nextDrillCrossingAt(
  drills: readonly DrillRecord[],
  now: number,
  expectation?: DrillExpectation,
): number | null {
  if (!expectation) return null;
  const from = staleClockStart(drills, expectation);
  if (from === undefined || !Number.isFinite(from)) return null;
  const at = from + expectation.staleAfterMs + 1;
  return at > now ? at : null;
}

/**
 * Where the `drill-stale` clock starts: the newest verified drill's end, else the oldest drill's start,
 * else `expectation.since`. `drills` is newest first.
 */
function staleClockStart(drills: readonly DrillRecord[], expectation: DrillExpectation): number | undefined {
  const verified = drills.find((drill) => drill.verdict === 'verified');
  const oldest = drills[drills.length - 1];
  if (verified) return parseTime(verified.finishedAt);
  return oldest ? parseTime(oldest.startedAt) : expectation.since;
}

/**
 * The report with its `lastDrill` set and the drill problems added; the status becomes the worst of the
 * report's and theirs.
 */
export function withDrills(
  report: ClusterReport,
  drills: readonly DrillRecord[],
  now: number,
  expectation?: DrillExpectation,
): ClusterReport {
  const problems = drillProblems(drills, now, expectation);
  return {
    ...report,
    status: problems.reduce<Status>((status, problem) => worse(status, problem.severity), report.status),
    problems: [...report.problems, ...problems],
    lastDrill: summarizeDrills(drills),
  };
}

const RANK = { ok: 0, info: 0, warning: 1, critical: 2 } as const;

function worse(status: Status, severity: Problem['severity']): Status {
  if (severity === 'info' || RANK[severity] <= RANK[status]) return status;
  return severity;
}

function formatPoint(point: DrillPoint): string {
  const parts = [
    point.lsn ?? 'no LSN',
    point.timeline === null ? null : `timeline ${point.timeline}`,
    point.lastCommitTime === null ? null : `last commit ${point.lastCommitTime}`,
  ].filter((part) => part !== null);
  return parts.join(', ');
}
