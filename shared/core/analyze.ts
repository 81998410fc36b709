/**
 * The recoverability analysis: from a cluster's state to its report, following
 * `../shared/spec/recoverability.md` section by section (timelines §2, backups §3, recovery chains §4,
 * gaps §5, freshness and problems §6).
 */
import {
  type AnalysisOptions,
  CLOCK_SKEW_ALLOWANCE_MS,
  DEFAULT_THRESHOLDS,
  type Thresholds,
} from './config.js';
import type { HistoryEntry } from './history.js';
import { parseBackupName, parseSpiloShape } from './keys.js';
import {
  formatLsn,
  type Lsn,
  parseWalFileName,
  segmentBeforeLsn,
  segmentStartLsn,
  walFileName,
} from './lsn.js';
import type {
  BackupReport,
  BackupStatus,
  ClusterReport,
  GapReport,
  LatestRecoverable,
  Problem,
  RecoverableInterval,
  Severity,
  Status,
  TimelineReport,
} from './report.js';
import {
  clipRuns,
  countInRange,
  countNumbers,
  findRun,
  firstRunEndingAtOrAfter,
  hasNumber,
  type Run,
  removeNumber,
} from './runs.js';
import {
  describeSizeEvidence,
  detectSegmentSize,
  formatSegmentSize,
  type SegmentSizeSource,
  type SizeEvidence,
} from './segment-size.js';
import {
  type BackupState,
  type ClusterState,
  type HistoryState,
  parseSegmentKey,
  segmentKey,
  summarizeParts,
} from './state.js';
import { isoOf, parseTime } from './time.js';

/** One step of the path to the target timeline: segments `[low, high]` are read from `timeline`. */
interface LineageStep {
  readonly timeline: number;
  readonly begin: Lsn;
  readonly low: number;
  readonly high: number;
}

/** A backup with everything the analysis derived about it. */
interface BackupView {
  readonly report: Omit<BackupReport, 'status' | 'reason'>;
  readonly startSegno: number;
  readonly finishSegno: number | null;
  readonly finishLsn: Lsn | null;
  readonly finishTimeMs: number | null;
  status: BackupStatus;
  reason: string | null;
  /** End of the recovery chain (last segment reached), when on the target lineage. */
  chainEnd: number | null;
}

const NO_RUNS: Run[] = [];

/**
 * Analyses one cluster.
 *
 * @example
 * const report = analyzeCluster(state, { now: parseTime('2026-11-24T15:00:00Z') });
 * report.latestRecoverable?.lsn // '0/F000000'
 */
export function analyzeCluster(state: ClusterState, options: AnalysisOptions): ClusterReport {
  const thresholds: Thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const now = options.now;
  const segmentSize = state.segmentSize;
  const name = (timeline: number, segno: number): string => walFileName(timeline, segno, segmentSize);
  const archivedRunsOf = (timeline: number): Run[] => state.segments[String(timeline)] ?? NO_RUNS;
  // Segments whose content recovery cannot read to the end count as missing for chains, backups and gaps.
  const usableRuns = withoutDefects(state);
  const runsOf = (timeline: number): Run[] => usableRuns.get(timeline) ?? archivedRunsOf(timeline);
  const defectsIn = (timeline: number, first: number, last: number): number => {
    let count = 0;
    for (const key of Object.keys(state.defects ?? {})) {
      const [t, n] = parseSegmentKey(key);
      if (t === timeline && n >= first && n <= last) count++;
    }
    return count;
  };
  const timeOf = (timeline: number, segno: number): number | undefined =>
    state.edgeTimes[segmentKey(timeline, segno)];
  const commitOf =
    options.segmentCommit ??
    ((timeline: number, segno: number) => state.commits?.[segmentKey(timeline, segno)] ?? undefined);
  const problems: Problem[] = [];
  const problem = (kind: string, severity: Severity, subject: string, message: string): void => {
    problems.push({ kind, severity, subject, message });
  };
  // Times beyond the skew allowance are clock skew: ages are clamped at zero and such times earn no grace.
  const skewed = new Clock(now);

  // §2 Timelines and the lineage of the target.
  const histories = pickHistories(state);
  const seen = seenTimelines(state, segmentSize);
  let target = 1;
  for (const timeline of seen) {
    if (timeline > target && histories.get(timeline)?.parse.ok) target = timeline;
  }
  const lineage = buildLineage(target, histories, segmentSize);
  const lineageTimelines = new Set(lineage.map((step) => step.timeline));
  const stepOf = (segno: number): LineageStep => {
    for (let i = lineage.length - 1; i > 0; i--) {
      const step = lineage[i] as LineageStep;
      if (step.low <= segno) return step;
    }
    return lineage[0] as LineageStep;
  };

  /** The last segment a recovery reaches walking from `segno` along the lineage (segno - 1 if none). */
  const walkChain = (from: number): number => {
    let segno = from;
    for (;;) {
      const step = stepOf(segno);
      const runs = runsOf(step.timeline);
      const at = findRun(runs, segno);
      if (at === -1) return segno - 1;
      const end = Math.min((runs[at] as Run)[1], step.high);
      if (end < step.high || !Number.isFinite(step.high)) return end;
      segno = step.high + 1;
    }
  };

  let head: { timeline: number; segno: number } | null = null;
  for (const step of lineage) {
    const clipped = clipRuns(runsOf(step.timeline), step.low, step.high);
    const last = clipped.at(-1);
    if (last && (head === null || last[1] > head.segno)) head = { timeline: step.timeline, segno: last[1] };
  }

  // §3 Backups.
  const views = new Map<string, BackupView>();
  for (const [backupName, backup] of sortedEntries(state.backups)) {
    const view = viewBackup(backupName, backup, segmentSize, thresholds, skewed);
    if (view) views.set(backupName, view);
  }
  for (const view of views.values()) {
    if (view.status !== 'restorable') continue;
    const broken = findBrokenAncestor(view, views);
    if (broken) {
      view.status = 'broken-chain';
      view.reason = broken;
      continue;
    }
    const finishSegno = view.finishSegno as number;
    const needed = finishSegno - view.startSegno + 1;
    const have = countInRange(runsOf(view.report.timeline), view.startSegno, finishSegno);
    if (have < needed) {
      view.status = 'missing-wal';
      view.reason = `${needed - have} of the ${needed} WAL segments it needs are missing`;
    }
  }

  // §4 Recovery chains, intervals, latest and earliest recoverable points.
  const onLineage = [...views.values()].filter((view) => {
    if (view.status !== 'restorable' || !lineageTimelines.has(view.report.timeline)) return false;
    return stepOf(view.startSegno).timeline === view.report.timeline;
  });
  for (const view of onLineage) {
    view.chainEnd = walkChain(view.startSegno);
    if (view.chainEnd < (view.finishSegno as number)) {
      view.status = 'missing-wal';
      view.reason = 'WAL up to its consistency point cannot be followed on the target timeline';
    }
  }
  const restorable = onLineage
    .filter((view) => view.status === 'restorable')
    .sort((a, b) => compareLsn(a.finishLsn as Lsn, b.finishLsn as Lsn));
  const intervals = mergeIntervals(restorable, segmentSize);
  const intervalReports: RecoverableInterval[] = intervals.map((interval) => {
    const step = stepOf(interval.end);
    const commit = commitOf(step.timeline, interval.end);
    return {
      timeline: step.timeline,
      fromLsn: formatLsn(interval.from),
      toLsn: formatLsn(segmentStartLsn(interval.end + 1, segmentSize)),
      fromTime: isoOrNull(interval.fromTime),
      toTime: commit?.lastCommitTime ?? isoOrNull(timeOf(step.timeline, interval.end)),
      backups: interval.backups,
    };
  });

  let latestRecoverable: LatestRecoverable | null = null;
  let lrpEvidenceMs: number | null = null;
  const newestInterval = intervals.at(-1);
  if (newestInterval) {
    const end = newestInterval.end;
    const step = stepOf(end);
    const archivedAt = timeOf(step.timeline, end);
    const commit = commitOf(step.timeline, end);
    const fastest = restorable.filter((view) => view.chainEnd === end).at(-1) as BackupView;
    latestRecoverable = {
      backup: fastest.report.name,
      timeline: step.timeline,
      segment: name(step.timeline, end),
      lsn: formatLsn(segmentStartLsn(end + 1, segmentSize)),
      archivedAt: isoOrNull(archivedAt),
      lastCommitTime: commit?.lastCommitTime ?? null,
      lastCommitLsn: commit?.lastCommitLsn ?? null,
    };
    lrpEvidenceMs = commit ? parseTime(commit.lastCommitTime) : (archivedAt ?? null);
  }
  const oldest = restorable[0];
  const earliestRecoverable = oldest
    ? {
        backup: oldest.report.name,
        timeline: oldest.report.timeline,
        lsn: formatLsn(oldest.finishLsn as Lsn),
        time: oldest.report.finishTime,
      }
    : null;

  // §5 Gaps: from the oldest usable backup on the lineage up to the head.
  const rangeStart = Math.min(
    ...[...views.values()]
      .filter((view) => view.status !== 'failed' && view.status !== 'invalid')
      .filter((view) => lineageTimelines.has(view.report.timeline))
      .map((view) => view.startSegno),
  );
  const newestRestorableStart = Math.max(...restorable.map((view) => view.startSegno));
  const gaps: GapReport[] = [];
  if (head !== null && Number.isFinite(rangeStart)) {
    for (const step of lineage) {
      const low = Math.max(step.low, rangeStart);
      const high = Math.min(step.high, head.segno);
      for (const [first, last] of complement(runsOf(step.timeline), low, high)) {
        const next = stepOf(last + 1);
        const nextAt = timeOf(next.timeline, last + 1);
        const id = `${name(step.timeline, first)}-${name(step.timeline, last)}`;
        if (nextAt !== undefined) skewed.check('wal', nextAt, `${name(next.timeline, last + 1)} stored at`);
        const status = options.acknowledgedGaps?.has(id)
          ? 'acknowledged'
          : nextAt !== undefined && skewed.withinGrace(nextAt, thresholds.gapGraceMs)
            ? 'pending'
            : 'lost';
        const severity =
          !Number.isFinite(newestRestorableStart) || last >= newestRestorableStart ? 'critical' : 'warning';
        gaps.push({
          id,
          timeline: step.timeline,
          firstSegment: name(step.timeline, first),
          lastSegment: name(step.timeline, last),
          count: last - first + 1,
          status,
          severity,
          nextSegmentStoredAt: isoOrNull(nextAt),
        });
        // Segments recovery cannot read are reported as `wal-corrupt`; a gap made of them alone is not missing WAL.
        const unreadable = defectsIn(step.timeline, first, last);
        if (status === 'lost' && unreadable < last - first + 1) {
          problem(
            'wal-gap',
            severity,
            id,
            `${last - first + 1} WAL segment(s) ${name(step.timeline, first)}…${name(step.timeline, last)} are missing` +
              (unreadable > 0 ? ` (${unreadable} of them archived but unreadable)` : '') +
              (severity === 'critical'
                ? '; they cut the latest recoverable point'
                : '; only older restore targets are affected'),
          );
        }
      }
    }
  }

  // Counts for retention and divergence.
  let unreferencedSegments = 0;
  let divergedSegments = 0;
  for (const [index, step] of lineage.entries()) {
    const runs = archivedRunsOf(step.timeline);
    unreferencedSegments += countInRange(runs, step.low, Math.min(step.high, rangeStart - 1));
    if (index < lineage.length - 1)
      divergedSegments += countInRange(runs, step.high + 1, Number.MAX_SAFE_INTEGER);
  }

  // §6 Problems.
  const timelines: TimelineReport[] = [...seen]
    .sort((a, b) => a - b)
    .map((timeline) => {
      const runs = archivedRunsOf(timeline);
      const history = histories.get(timeline);
      const parentEntry = history?.parse.ok ? history.parse.entries.at(-1) : undefined;
      const first = runs[0];
      const last = runs.at(-1);
      return {
        id: timeline,
        parent: parentEntry?.parent ?? null,
        switchLsn: parentEntry ? formatLsn(BigInt(parentEntry.switchLsn)) : null,
        firstSegment: first ? name(timeline, first[0]) : null,
        lastSegment: last ? name(timeline, last[1]) : null,
        segments: countNumbers(runs),
        history: timeline === 1 || history?.parse.ok ? 'ok' : history ? 'invalid' : 'missing',
        inLineage: lineageTimelines.has(timeline),
      };
    });
  for (const timeline of timelines) {
    if (timeline.id === 1 || timeline.history === 'ok') continue;
    if (timeline.history === 'invalid') {
      const history = histories.get(timeline.id) as HistoryState;
      const error = history.parse.ok ? '' : history.parse.error;
      problem(
        'history-invalid',
        'critical',
        hex(timeline.id),
        `history of timeline ${timeline.id} cannot be read: ${error}`,
      );
    } else if (timeline.segments > 0) {
      problem(
        'missing-history',
        'critical',
        hex(timeline.id),
        `timeline ${timeline.id} has ${timeline.segments} segment(s) but no ${hex(timeline.id)}.history: recovery cannot follow it`,
      );
    }
  }
  for (const [, partial] of sortedEntries(state.partials)) {
    const parsed = parseWalFileName(partial.walFile, segmentSize);
    const timeline = parsed.ok ? parsed.timeline : Number.parseInt(partial.walFile.slice(0, 8), 16);
    if (![...seen].some((other) => other > timeline)) {
      problem(
        'orphan-partial',
        'warning',
        `${partial.walFile}.partial`,
        `${partial.walFile}.partial exists but no newer timeline does: a promotion's history file may be missing`,
      );
    }
  }
  if (Number.isFinite(rangeStart)) {
    for (const step of lineage) {
      const deleted = clipRuns(
        state.deleted[String(step.timeline)] ?? NO_RUNS,
        Math.max(step.low, rangeStart),
        step.high,
      );
      for (const [first, last] of deleted) {
        problem(
          'wal-deleted',
          'critical',
          name(step.timeline, first),
          `${last - first + 1} needed WAL segment(s) from ${name(step.timeline, first)} to ${name(step.timeline, last)} were deleted from the archive`,
        );
      }
    }
  }
  for (const [key, defect] of sortedEntries(state.defects ?? {})) {
    const [timeline, segno] = parseSegmentKey(key);
    // A defect of a segment removed since (or replaced and not yet re-read as absent) says nothing now.
    if (!hasNumber(archivedRunsOf(timeline), segno)) continue;
    const onLineage = lineageTimelines.has(timeline) && stepOf(segno).timeline === timeline;
    const needed = onLineage && Number.isFinite(rangeStart) && segno >= rangeStart;
    const segment = name(timeline, segno);
    problem(
      'wal-corrupt',
      needed && (!Number.isFinite(newestRestorableStart) || segno >= newestRestorableStart)
        ? 'critical'
        : 'warning',
      segment,
      `${segment} is archived but recovery cannot read it to the end (${defect.kind}: ${defect.message}); ` +
        (needed
          ? `replay stops at ${defect.stopLsn}, so restore targets after it are unreachable`
          : 'no restore target on the target timeline needs it'),
    );
  }
  for (const [, overwrite] of sortedEntries(state.overwritten)) {
    problem(
      'wal-overwritten',
      'critical',
      overwrite.key,
      `${overwrite.key} was stored again with different content (size ${overwrite.previousSize ?? '?'} → ${overwrite.size ?? '?'}, ETag ${overwrite.previousEtag ?? '?'} → ${overwrite.etag ?? '?'}): two servers may be archiving the same timeline`,
    );
  }
  for (const view of views.values()) {
    const subject = view.report.name;
    if (view.status === 'failed')
      problem('backup-failed', 'warning', subject, `${subject} has no sentinel: ${view.reason}`);
    else if (view.status === 'invalid')
      problem('sentinel-invalid', 'warning', subject, `${subject}: ${view.reason}`);
    else if (view.status === 'missing-wal')
      problem('backup-missing-wal', 'warning', subject, `${subject} cannot be restored: ${view.reason}`);
    else if (view.status === 'broken-chain')
      problem('backup-broken-chain', 'warning', subject, `${subject} cannot be restored: ${view.reason}`);
    const metadata = state.backups[subject]?.metadata;
    if (metadata && !metadata.parse.ok)
      problem('metadata-invalid', 'warning', subject, `${subject}/metadata.json: ${metadata.parse.error}`);
  }
  const sizing = segmentSizeProblems(state);
  for (const entry of sizing.problems) problem(entry.kind, entry.severity, entry.subject, entry.message);
  const outOfRange = Object.keys(state.outOfRange).sort();
  if (outOfRange.length > 0) {
    problem(
      'segment-size-mismatch',
      'warning',
      outOfRange[0] as string,
      `${outOfRange.length} segment name(s) are impossible with ${segmentSize}-byte segments (e.g. ${outOfRange[0]}): is the cluster's segment size set right?`,
    );
  }
  const unknownKeys = Object.keys(state.unknown).sort();
  const unknownCount = unknownKeys.length + state.unknownOverflow;
  if (unknownCount > 0) {
    problem(
      'unknown-objects',
      'info',
      String(unknownCount),
      `${unknownCount} object(s) are neither WAL nor backups (e.g. ${unknownKeys[0] ?? '?'})`,
    );
  }

  if (state.newest) skewed.check('wal', state.newest.at, 'the newest segment stored at');
  const archiveAgeMs = state.newest ? skewed.age(state.newest.at) : null;
  if (archiveAgeMs !== null && archiveAgeMs > thresholds.maxArchiveAgeMs) {
    problem(
      'archive-stale',
      'critical',
      'wal',
      `no WAL segment has been archived for ${formatDuration(archiveAgeMs)} (last ${isoOrNull(state.newest?.at)})`,
    );
  }
  const newestBackup = restorable.reduce<BackupView | undefined>(
    (best, view) => (best === undefined || (view.finishTimeMs ?? 0) > (best.finishTimeMs ?? 0) ? view : best),
    undefined,
  );
  if (newestBackup?.finishTimeMs != null)
    skewed.check('backups', newestBackup.finishTimeMs, `backup ${newestBackup.report.name} finished at`);
  const backupAgeMs = newestBackup?.finishTimeMs != null ? skewed.age(newestBackup.finishTimeMs) : null;
  if (restorable.length === 0 && (views.size > 0 || state.newest !== null)) {
    problem(
      'no-restorable-backup',
      'critical',
      'backups',
      'no backup can be restored on the target timeline',
    );
  } else if (backupAgeMs !== null && backupAgeMs > thresholds.maxBackupAgeMs) {
    problem(
      'backup-stale',
      'warning',
      'backups',
      `the newest restorable backup finished ${formatDuration(backupAgeMs)} ago`,
    );
  }

  if (lrpEvidenceMs !== null) skewed.check('wal', lrpEvidenceMs, 'the latest recoverable point is of');
  for (const [subject, times] of skewed.found) {
    // WAL times stand in for archive-stale (critical) and gap grace; backup times for backup-stale (warning).
    problem(
      'clock-skew',
      subject === 'wal' ? 'critical' : 'warning',
      subject,
      `${times.length} time(s) lie more than ${formatDuration(CLOCK_SKEW_ALLOWANCE_MS)} after now (${isoOf(now)}), ` +
        `e.g. ${times[0]}: ${subject === 'wal' ? 'archive age and gap grace' : 'backup age and upload progress'} ` +
        "cannot be judged (ages count as zero, nothing waits for them); check the clocks of the database hosts and the objects' times",
    );
  }

  const shape = parseSpiloShape(state.id);
  return {
    id: state.id,
    scope: shape.scope,
    uid: shape.uid,
    pgMajor: shape.pgMajor,
    segmentSize,
    segmentSizeSource: sizing.source,
    status: worstStatus(problems),
    targetTimeline: target,
    timelines,
    backups: [...views.values()]
      .map((view) => ({ ...view.report, status: view.status, reason: view.reason }))
      .sort(
        (a, b) =>
          a.timeline - b.timeline ||
          a.startSegment.localeCompare(b.startSegment) ||
          a.name.localeCompare(b.name),
      ),
    gaps,
    earliestRecoverable,
    latestRecoverable,
    recoverableIntervals: intervalReports,
    archiveAgeSeconds: archiveAgeMs === null ? null : archiveAgeMs / 1000,
    backupAgeSeconds: backupAgeMs === null ? null : backupAgeMs / 1000,
    recoveryPointLagSeconds: lrpEvidenceMs === null ? null : skewed.age(lrpEvidenceMs) / 1000,
    headSegment: head ? name(head.timeline, head.segno) : null,
    lastArchivedAt: isoOrNull(state.newest?.at),
    unreferencedSegments,
    divergedSegments,
    problems,
  };
}

/**
 * The analysis time and what lies beyond it: ages never go negative, a time beyond the skew allowance earns
 * no grace, and every such time is collected by subject for the `clock-skew` problem.
 */
class Clock {
  readonly found = new Map<'wal' | 'backups', string[]>();

  constructor(private readonly now: number) {}

  /** Notes `at` under `subject` when it lies beyond the allowance; returns whether it does. */
  check(subject: 'wal' | 'backups', at: number, what: string): boolean {
    if (at <= this.now + CLOCK_SKEW_ALLOWANCE_MS) return false;
    const list = this.found.get(subject) ?? [];
    list.push(`${what} ${isoOf(at)}`);
    this.found.set(subject, list);
    return true;
  }

  /** Time since `at`, zero for a time in the future. */
  age(at: number): number {
    return Math.max(0, this.now - at);
  }

  /** Whether `at` is less than `graceMs` ago; never for a time beyond the allowance. */
  withinGrace(at: number, graceMs: number): boolean {
    return at <= this.now + CLOCK_SKEW_ALLOWANCE_MS && this.now - at < graceMs;
  }
}

/**
 * The problems of a cluster's segment size: evidence in the archive that contradicts the size in use
 * (critical, one problem naming the first contradiction and the size's own source), a state counted under
 * another size than the archive now tells (critical, until it is re-derived), and a size only assumed (info).
 */
function segmentSizeProblems(state: ClusterState): { source: SegmentSizeSource; problems: Problem[] } {
  // States stored before detection existed were counted under the configured size.
  const source = state.segmentSizeSource ?? 'configured';
  const detection = detectSegmentSize(state, source === 'configured' ? state.segmentSize : 'auto');
  const size = state.segmentSize;
  const problems: Problem[] = [];
  const wrong = ': every LSN and gap in this report is wrong until the segment size is right';
  if (detection.size !== size) {
    problems.push({
      kind: 'segment-size-mismatch',
      severity: 'critical',
      subject: detection.evidence?.subject ?? 'segment-size',
      message: `segments are counted as ${formatSegmentSize(size)}, but ${describeSizeEvidence(detection.evidence as SizeEvidence)}${wrong}`,
    });
    return { source, problems };
  }
  const first = detection.conflicts[0];
  if (first) {
    const others = detection.conflicts.length - 1;
    const basis =
      detection.source === 'configured'
        ? `the configured size is ${formatSegmentSize(size)}`
        : detection.source === 'assumed'
          ? `${formatSegmentSize(size)} is assumed`
          : describeSizeEvidence(detection.evidence as SizeEvidence);
    problems.push({
      kind: 'segment-size-mismatch',
      severity: 'critical',
      subject: first.subject,
      message: `${describeSizeEvidence(first)}${others > 0 ? ` (and ${others} more)` : ''}, but ${basis}${wrong}`,
    });
  }
  if (source === 'assumed') {
    problems.push({
      kind: 'segment-size-assumed',
      severity: 'info',
      subject: 'segment-size',
      message: `no backup history file, sentinel or segment read tells the segment size yet: ${formatSegmentSize(size)} is assumed`,
    });
  }
  return { source, problems };
}

/** Per timeline with defects, its runs without the defective segments (other timelines are not copied). */
/**
 * Whether every segment `first…last` of `timeline` is archived and, where the content is read, readable: the
 * test for a gap that closed by being filled (`gap-history.ts`).
 */
export function hasUsableSegments(
  state: ClusterState,
  timeline: number,
  first: number,
  last: number,
): boolean {
  const runs = withoutDefects(state).get(timeline) ?? state.segments[String(timeline)] ?? NO_RUNS;
  return countInRange(runs, first, last) === last - first + 1;
}

function withoutDefects(state: ClusterState): Map<number, Run[]> {
  const usable = new Map<number, Run[]>();
  for (const key of Object.keys(state.defects ?? {})) {
    const [timeline, segno] = parseSegmentKey(key);
    let runs = usable.get(timeline);
    if (runs === undefined) {
      runs = (state.segments[String(timeline)] ?? []).map((run): Run => [run[0], run[1]]);
      usable.set(timeline, runs);
    }
    removeNumber(runs, segno);
  }
  return usable;
}

/** A record's entries in key order, so reports do not depend on the order objects arrived in. */
function sortedEntries<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Per timeline, the history object to trust: a readable one, the most recently stored first. */
function pickHistories(state: ClusterState): Map<number, HistoryState> {
  const chosen = new Map<number, HistoryState>();
  for (const [, history] of sortedEntries(state.histories)) {
    const current = chosen.get(history.timeline);
    const better =
      current === undefined ||
      (history.parse.ok && !current.parse.ok) ||
      (history.parse.ok === current.parse.ok && history.at > current.at);
    if (better) chosen.set(history.timeline, history);
  }
  return chosen;
}

function seenTimelines(state: ClusterState, segmentSize: number): Set<number> {
  const seen = new Set<number>([1]);
  for (const timeline of Object.keys(state.segments)) seen.add(Number(timeline));
  for (const history of Object.values(state.histories)) seen.add(history.timeline);
  for (const [, partial] of sortedEntries(state.partials)) {
    const parsed = parseWalFileName(partial.walFile, segmentSize);
    if (parsed.ok) seen.add(parsed.timeline);
  }
  for (const name of Object.keys(state.backups)) {
    const parsed = parseBackupName(name);
    if (parsed) seen.add(Number.parseInt(parsed.startWalFile.slice(0, 8), 16));
  }
  // Timeline 1 needs no history; list it only when something is on it or nothing else exists.
  if (seen.size > 1 && !(state.segments['1'] || hasTimelineOneObjects(state))) seen.delete(1);
  return seen;
}

function hasTimelineOneObjects(state: ClusterState): boolean {
  return (
    Object.values(state.partials).some((partial) => partial.walFile.startsWith('00000001')) ||
    Object.keys(state.backups).some((name) => name.startsWith('base_00000001'))
  );
}

function buildLineage(
  target: number,
  histories: Map<number, HistoryState>,
  segmentSize: number,
): LineageStep[] {
  const history = histories.get(target);
  const entries: readonly HistoryEntry[] = target > 1 && history?.parse.ok ? history.parse.entries : [];
  const steps: Array<{ timeline: number; begin: Lsn }> = [];
  let begin = 0n;
  for (const entry of entries) {
    steps.push({ timeline: entry.parent, begin });
    begin = BigInt(entry.switchLsn);
  }
  steps.push({ timeline: target, begin });
  return steps.map((step, index) => {
    const low = Number(step.begin / BigInt(segmentSize));
    const next = steps[index + 1];
    const high = next ? Number(next.begin / BigInt(segmentSize)) - 1 : Number.POSITIVE_INFINITY;
    return { timeline: step.timeline, begin: step.begin, low, high };
  });
}

function viewBackup(
  name: string,
  backup: BackupState,
  segmentSize: number,
  thresholds: Thresholds,
  clock: Clock,
): BackupView | undefined {
  const parsedName = parseBackupName(name);
  if (!parsedName) return undefined;
  const start = parseWalFileName(parsedName.startWalFile, segmentSize);
  const timeline = Number.parseInt(parsedName.startWalFile.slice(0, 8), 16);
  const startSegno = start.ok ? start.segno : 0;
  const sentinel = backup.sentinel;
  const facts = sentinel?.parse.ok ? sentinel.parse.value : null;
  const metadata = backup.metadata?.parse.ok ? backup.metadata.parse.value : null;

  let startLsn: Lsn | null = null;
  let finishLsn: Lsn | null = null;
  if (facts?.format === 'wal-g') {
    startLsn = BigInt(facts.startLsn as string);
    finishLsn = BigInt(facts.finishLsn as string);
  } else if (facts?.walEStop && start.ok) {
    const stop = parseWalFileName(facts.walEStop.walFile, segmentSize);
    startLsn = segmentStartLsn(startSegno, segmentSize) + BigInt(parsedName.walEOffset ?? 0);
    if (stop.ok) finishLsn = segmentStartLsn(stop.segno, segmentSize) + BigInt(facts.walEStop.offset);
  }
  const finishTime = facts?.finishTime ?? metadata?.finishTime ?? (sentinel ? isoOf(sentinel.at) : null);
  const deltaParent =
    facts?.deltaFrom ?? (parsedName.deltaFromWalFile ? `base_${parsedName.deltaFromWalFile}` : null);
  const report: BackupView['report'] = {
    name,
    timeline,
    startSegment: parsedName.startWalFile,
    startLsn: startLsn === null ? null : formatLsn(startLsn),
    finishLsn: finishLsn === null ? null : formatLsn(finishLsn),
    startTime: facts?.startTime ?? metadata?.startTime ?? null,
    finishTime,
    permanent: metadata?.isPermanent ?? facts?.isPermanent ?? false,
    delta: deltaParent
      ? { parent: deltaParent, full: facts?.deltaFullName ?? null, count: facts?.deltaCount ?? null }
      : null,
    compressedSize: facts?.compressedSize ?? metadata?.compressedSize ?? null,
    uncompressedSize: facts?.uncompressedSize ?? metadata?.uncompressedSize ?? null,
    systemIdentifier: facts?.systemIdentifier ?? metadata?.systemIdentifier ?? null,
    pgVersion: facts?.pgVersion ?? metadata?.pgVersion ?? null,
    sentinelStoredAt: sentinel ? isoOf(sentinel.at) : null,
  };
  const view: BackupView = {
    report,
    startSegno,
    finishSegno: finishLsn === null ? null : Math.max(startSegno, segmentBeforeLsn(finishLsn, segmentSize)),
    finishLsn,
    finishTimeMs: finishTime === null ? null : parseTime(finishTime),
    status: 'restorable',
    reason: null,
    chainEnd: null,
  };
  if (!start.ok) {
    view.status = 'invalid';
    view.reason = `start segment ${parsedName.startWalFile} is impossible with ${segmentSize}-byte segments`;
  } else if (!sentinel) {
    const newestPart = Math.max(summarizeParts(backup).newestAt ?? 0, backup.metadata?.at ?? 0);
    const future = clock.check('backups', newestPart, `a part of backup ${name} stored at`);
    const stale = !clock.withinGrace(newestPart, thresholds.backupStaleAfterMs);
    view.status = stale ? 'failed' : 'in-progress';
    view.reason = future
      ? `its newest part is stamped ${isoOf(newestPart)}, in the future, and no sentinel followed`
      : stale
        ? `its newest part was stored ${formatDuration(clock.age(newestPart))} ago and no sentinel followed`
        : 'upload in progress (no sentinel yet)';
  } else if (!sentinel.parse.ok) {
    view.status = 'invalid';
    view.reason = `sentinel cannot be read: ${sentinel.parse.error}`;
  } else if (finishLsn === null) {
    view.status = 'invalid';
    view.reason = 'sentinel names no usable stop point';
  }
  return view;
}

/** Follows a delta's parents up to its full backup; returns why the chain is broken, or undefined. */
function findBrokenAncestor(view: BackupView, views: Map<string, BackupView>): string | undefined {
  const visited = new Set<string>([view.report.name]);
  let current = view;
  while (current.report.delta) {
    const parentName = current.report.delta.parent;
    const parent = views.get(parentName) ?? findByStartSegment(parentName, views);
    if (!parent) return `its delta parent ${parentName} is gone`;
    if (parent.status === 'invalid' || parent.status === 'failed' || parent.status === 'in-progress') {
      return `its delta parent ${parent.report.name} is ${parent.status}`;
    }
    if (visited.has(parent.report.name)) return `its delta chain loops at ${parent.report.name}`;
    visited.add(parent.report.name);
    current = parent;
  }
  return undefined;
}

/** A `_D_` suffix names only the parent's start segment: find the backup with that start. */
function findByStartSegment(parentName: string, views: Map<string, BackupView>): BackupView | undefined {
  const walFile = parentName.slice('base_'.length, 'base_'.length + 24);
  let found: BackupView | undefined;
  for (const view of views.values()) {
    if (view.report.startSegment === walFile && view.report.name.startsWith(parentName)) {
      if (!found || view.report.name.length < found.report.name.length) found = view;
    }
  }
  return found;
}

interface MergedInterval {
  from: Lsn;
  to: Lsn;
  end: number;
  fromTime: number | null;
  backups: string[];
}

function mergeIntervals(restorable: readonly BackupView[], segmentSize: number): MergedInterval[] {
  const merged: MergedInterval[] = [];
  for (const view of restorable) {
    const end = view.chainEnd as number;
    const from = view.finishLsn as Lsn;
    const to = segmentStartLsn(end + 1, segmentSize);
    const last = merged.at(-1);
    if (last && from <= last.to) {
      if (to > last.to) {
        last.to = to;
        last.end = end;
      }
      last.backups.push(view.report.name);
    } else {
      merged.push({ from, to, end, fromTime: view.finishTimeMs, backups: [view.report.name] });
    }
  }
  return merged;
}

/** The numbers of `[low, high]` not in `runs`, as runs. */
function complement(runs: readonly Run[], low: number, high: number): Run[] {
  const holes: Run[] = [];
  if (low > high) return holes;
  let cursor = low;
  for (let i = firstRunEndingAtOrAfter(runs, low); i < runs.length && cursor <= high; i++) {
    const [first, last] = runs[i] as Run;
    if (first > high) break;
    if (first > cursor) holes.push([cursor, first - 1]);
    cursor = Math.max(cursor, last + 1);
  }
  if (cursor <= high) holes.push([cursor, high]);
  return holes;
}

function compareLsn(a: Lsn, b: Lsn): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function worstStatus(problems: readonly Problem[]): Status {
  if (problems.some((p) => p.severity === 'critical')) return 'critical';
  if (problems.some((p) => p.severity === 'warning')) return 'warning';
  return 'ok';
}

function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : isoOf(ms);
}

function hex(timeline: number): string {
  return timeline.toString(16).toUpperCase().padStart(8, '0');
}

/** A duration as people say it: `3 d 4 h`, `12 min 5 s`. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = Math.abs(seconds);
  for (const [unit, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0 && parts.length < 2) parts.push(`${amount} ${unit}`);
    if (amount > 0) rest -= amount * size;
  }
  return `${seconds < 0 ? '-' : ''}${parts.length > 0 ? parts.join(' ') : '0 s'}`;
}
