/**
 * Gap history (`../shared/spec/recoverability.md` §5): which gaps are open since when, and which closed how.
 *
 * An analysis computes the gaps of one moment; tracking them from one sweep to the next keeps what a
 * moment cannot show: when a gap was first seen, the worst status and severity it reached, and, once it is
 * gone, whether its segments arrived (`filled`) or the range simply stopped being checked (`out-of-range`:
 * retention removed the backups that needed it, or the lineage moved away from its timeline).
 *
 * Rules:
 * - A current gap that overlaps a tracked one on the same timeline continues it (a gap that shrank, split
 *   or merged): it keeps the earliest `firstSeenAt` and the worst status and severity of all it continues.
 * - It inherits an acknowledgement only when every segment of it lay in acknowledged tracked gaps: a merge
 *   with segments nobody acknowledged alerts again.
 * - A tracked gap that no current gap overlaps is closed, and its acknowledgement closes with it: the
 *   acknowledgement is recorded in the history (its reason cut to {@link MAX_HISTORY_REASON} characters)
 *   and must be withdrawn from the live acknowledgements, so a
 *   gap that re-opens under the same id alerts again.
 * - The history keeps the newest {@link MAX_CLOSED_GAPS} closed gaps, of which at most
 *   {@link MAX_PENDING_ONLY_GAPS} were only ever `pending` and never acknowledged (the normal holes of
 *   parallel uploads, which would otherwise crowd out the gaps that mattered).
 * - At most {@link MAX_OPEN_GAPS} gaps are tracked open (the lowest segments first), to bound the stored
 *   item: a gap beyond them is tracked once room frees up, first seen then.
 */
import { parseWalFileName, walFileName } from './lsn.js';
import type { GapReport } from './report.js';
import { isoOf, parseTime } from './time.js';

/** Newest closed gaps the history keeps. */
export const MAX_CLOSED_GAPS = 50;
/** Closed gaps that were only ever `pending` (and never acknowledged) the history keeps. */
export const MAX_PENDING_ONLY_GAPS = 10;
/** Gaps tracked open at most. */
export const MAX_OPEN_GAPS = 200;
/**
 * Characters of an acknowledgement's reason a closed gap keeps (the API takes up to 1,000): 50 full reasons
 * of up to 3 UTF-8 bytes a character would make the alert-state item, read on every analysis, 150 KB.
 */
export const MAX_HISTORY_REASON = 280;

/** An operator's acknowledgement, as the store keeps it. */
export interface GapHistoryAcknowledgement {
  readonly reason: string;
  readonly by: string;
  /** ISO 8601 time. */
  readonly at: string;
}

/** The worst status a gap reached: `pending` < `lost` < `acknowledged` (an operator had to look at it). */
export type GapWorstStatus = 'pending' | 'lost' | 'acknowledged';

/** How a gap closed: its segments arrived, or its range is no longer checked with segments still absent. */
export type GapOutcome = 'filled' | 'out-of-range';

/** A gap being tracked. Segments are numbers (`segno`): names follow from the cluster's segment size. */
export interface OpenGapRecord {
  readonly timeline: number;
  readonly firstSegno: number;
  readonly lastSegno: number;
  /** Epoch ms of the first sweep that saw it (or a gap it continues). */
  readonly firstSeenAt: number;
  readonly worstStatus: GapWorstStatus;
  readonly severity: GapReport['severity'];
}

/** A gap that closed. */
export interface ClosedGapRecord extends OpenGapRecord {
  /** Epoch ms of the sweep that found it gone. */
  readonly closedAt: number;
  readonly outcome: GapOutcome;
  readonly acknowledgement?: GapHistoryAcknowledgement;
}

/** What is stored between sweeps: the open gaps and the closed ones, newest first. */
export interface GapHistory {
  readonly open: readonly OpenGapRecord[];
  readonly closed: readonly ClosedGapRecord[];
}

/** No gap seen yet. */
export const EMPTY_GAP_HISTORY: GapHistory = { open: [], closed: [] };

/** What tracking needs to know about the cluster besides its gaps. */
export interface GapTrackingContext {
  readonly segmentSize: number;
  /** The live acknowledgements by gap id. */
  readonly acknowledgements: Readonly<Record<string, GapHistoryAcknowledgement>>;
  /** Whether every segment `first…last` of `timeline` is archived (and readable where content is read). */
  readonly isPresent: (timeline: number, firstSegno: number, lastSegno: number) => boolean;
}

/** The result of one tracking step. */
export interface GapTracking {
  readonly history: GapHistory;
  /** Gaps closed by this step, in segment order. */
  readonly closed: readonly ClosedGapRecord[];
  /** Acknowledgements current gaps inherit under their new id (a gap that shrank or split). */
  readonly inherited: Readonly<Record<string, GapHistoryAcknowledgement>>;
  /** Live acknowledgements whose gap is no longer open: withdraw them (see the module note). */
  readonly withdrawn: Readonly<Record<string, GapHistoryAcknowledgement>>;
}

const RANK: Record<GapWorstStatus, number> = { pending: 0, lost: 1, acknowledged: 2 };

/** The stable id of a gap, as the analysis names it. */
export function gapRecordId(
  gap: Pick<OpenGapRecord, 'timeline' | 'firstSegno' | 'lastSegno'>,
  segmentSize: number,
) {
  return `${walFileName(gap.timeline, gap.firstSegno, segmentSize)}-${walFileName(gap.timeline, gap.lastSegno, segmentSize)}`;
}

/**
 * Moves the tracked gaps on to the gaps of an analysis at `now` (see the module note for the rules).
 *
 * @example
 * const step = trackGaps(stored, report.gaps, now, { segmentSize, acknowledgements, isPresent });
 * step.history.closed[0] // { timeline: 1, firstSegno: 4, …, outcome: 'filled', closedAt: now }
 */
export function trackGaps(
  previous: GapHistory,
  current: readonly GapReport[],
  now: number,
  context: GapTrackingContext,
): GapTracking {
  const size = context.segmentSize;
  const all = current
    .flatMap((gap) => {
      const first = parseWalFileName(gap.firstSegment, size);
      const last = parseWalFileName(gap.lastSegment, size);
      if (!first.ok || !last.ok || gap.status === 'filled') return [];
      return [{ gap, status: gap.status, firstSegno: first.segno, lastSegno: last.segno }];
    })
    .sort((a, b) => a.gap.timeline - b.gap.timeline || a.firstSegno - b.firstSegno);
  const gaps = all.slice(0, MAX_OPEN_GAPS);
  const overlaps = (a: OpenGapRecord, b: { gap: GapReport; firstSegno: number; lastSegno: number }) =>
    a.timeline === b.gap.timeline && a.firstSegno <= b.lastSegno && b.firstSegno <= a.lastSegno;
  const acknowledged = (record: OpenGapRecord) => context.acknowledgements[gapRecordId(record, size)];

  const open: OpenGapRecord[] = [];
  const inherited: Record<string, GapHistoryAcknowledgement> = {};
  for (const entry of gaps) {
    const before = previous.open.filter((record) => overlaps(record, entry));
    let worst: GapWorstStatus = entry.status;
    let severity = entry.gap.severity;
    let firstSeenAt = now;
    for (const record of before) {
      if (RANK[record.worstStatus] > RANK[worst]) worst = record.worstStatus;
      if (record.severity === 'critical') severity = 'critical';
      firstSeenAt = Math.min(firstSeenAt, record.firstSeenAt);
    }
    open.push({
      timeline: entry.gap.timeline,
      firstSegno: entry.firstSegno,
      lastSegno: entry.lastSegno,
      firstSeenAt,
      worstStatus: worst,
      severity,
    });
    const id = entry.gap.id;
    if (context.acknowledgements[id] || before.length === 0) continue;
    const covering = before.filter((record) => acknowledged(record) !== undefined);
    if (coversAll(covering, entry.firstSegno, entry.lastSegno)) {
      // The earliest acknowledgement among those it continues: the one an operator gave first.
      const earliest = covering
        .map((record) => acknowledged(record) as GapHistoryAcknowledgement)
        .sort((a, b) => parseTime(a.at) - parseTime(b.at))[0] as GapHistoryAcknowledgement;
      inherited[id] = earliest;
      const index = open.length - 1;
      open[index] = { ...(open[index] as OpenGapRecord), worstStatus: 'acknowledged' };
    }
  }

  const closed: ClosedGapRecord[] = [];
  for (const record of previous.open) {
    // Beyond the tracked ones too: a gap still open past the cap is dropped from tracking, not closed.
    if (all.some((entry) => overlaps(record, entry))) continue;
    const given = acknowledged(record);
    const acknowledgement = given && { ...given, reason: shortenReason(given.reason) };
    closed.push({
      ...record,
      closedAt: now,
      outcome: context.isPresent(record.timeline, record.firstSegno, record.lastSegno)
        ? 'filled'
        : 'out-of-range',
      ...(acknowledgement ? { acknowledgement } : {}),
    });
  }

  const openIds = new Set(all.map((entry) => entry.gap.id));
  const withdrawn: Record<string, GapHistoryAcknowledgement> = {};
  const wasTracked = new Set([
    ...previous.open.map((record) => gapRecordId(record, size)),
    ...previous.closed.map((record) => gapRecordId(record, size)),
    ...closed.map((record) => gapRecordId(record, size)),
  ]);
  for (const [id, acknowledgement] of Object.entries(context.acknowledgements)) {
    // Only gaps tracking saw: an acknowledgement given for a gap this analysis has not seen yet stays.
    if (!openIds.has(id) && wasTracked.has(id)) withdrawn[id] = acknowledgement;
  }

  return {
    history: { open, closed: boundHistory([...closed, ...previous.closed]) },
    closed,
    inherited,
    withdrawn,
  };
}

/** A closed gap as the API answers it (`GET /clusters/{id}/gaps`, `history`). */
export interface ClosedGapReport {
  readonly id: string;
  readonly timeline: number;
  readonly firstSegment: string;
  readonly lastSegment: string;
  readonly count: number;
  /** ISO 8601 time of the first sweep that saw it. */
  readonly firstSeenAt: string;
  /** ISO 8601 time of the sweep that found it gone. */
  readonly closedAt: string;
  readonly status: GapOutcome;
  readonly worstStatus: GapWorstStatus;
  readonly severity: GapReport['severity'];
  readonly acknowledgement?: GapHistoryAcknowledgement;
}

/** The closed gaps of a history with their segment names, newest first. */
export function describeClosedGaps(history: GapHistory, segmentSize: number): ClosedGapReport[] {
  return history.closed.map((record) => ({
    id: gapRecordId(record, segmentSize),
    timeline: record.timeline,
    firstSegment: walFileName(record.timeline, record.firstSegno, segmentSize),
    lastSegment: walFileName(record.timeline, record.lastSegno, segmentSize),
    count: record.lastSegno - record.firstSegno + 1,
    firstSeenAt: isoOf(record.firstSeenAt),
    closedAt: isoOf(record.closedAt),
    status: record.outcome,
    worstStatus: record.worstStatus,
    severity: record.severity,
    ...(record.acknowledgement ? { acknowledgement: record.acknowledgement } : {}),
  }));
}

/** How each closed gap of a history closed, by gap id; a re-closed id keeps its newest outcome. */
export function closedGapOutcomes(history: GapHistory, segmentSize: number): Map<string, GapOutcome> {
  const newest = new Map<string, ClosedGapRecord>();
  for (const record of history.closed) {
    const id = gapRecordId(record, segmentSize);
    if ((newest.get(id)?.closedAt ?? Number.NEGATIVE_INFINITY) <= record.closedAt) newest.set(id, record);
  }
  return new Map([...newest].map(([id, record]) => [id, record.outcome]));
}

/** Whether a closed gap only ever was a normal upload hole: pending, never acknowledged. */
export function isPendingOnly(record: ClosedGapRecord): boolean {
  return record.worstStatus === 'pending' && record.acknowledgement === undefined;
}

/** Newest first, at most {@link MAX_CLOSED_GAPS}, of which at most {@link MAX_PENDING_ONLY_GAPS} pending only. */
export function boundHistory(records: readonly ClosedGapRecord[]): ClosedGapRecord[] {
  const ordered = [...records].sort(
    (a, b) => b.closedAt - a.closedAt || a.timeline - b.timeline || a.firstSegno - b.firstSegno,
  );
  const kept: ClosedGapRecord[] = [];
  let pendingOnly = 0;
  for (const record of ordered) {
    if (kept.length === MAX_CLOSED_GAPS) break;
    if (isPendingOnly(record)) {
      if (pendingOnly === MAX_PENDING_ONLY_GAPS) continue;
      pendingOnly += 1;
    }
    kept.push(record);
  }
  return kept;
}

/** A reason cut to {@link MAX_HISTORY_REASON} characters, ending in `…` when cut (never inside a pair). */
function shortenReason(reason: string): string {
  if (reason.length <= MAX_HISTORY_REASON) return reason;
  const chars = Array.from(reason);
  return chars.length <= MAX_HISTORY_REASON ? reason : `${chars.slice(0, MAX_HISTORY_REASON - 1).join('')}…`;
}

/** Whether the ranges of `records` together cover every segment `first…last`. */
function coversAll(records: readonly OpenGapRecord[], first: number, last: number): boolean {
  let next = first;
  for (const record of [...records].sort((a, b) => a.firstSegno - b.firstSegno)) {
    if (record.firstSegno > next) return false;
    next = Math.max(next, record.lastSegno + 1);
    if (next > last) return true;
  }
  return next > last;
}

/** Whether two histories hold the same records (a sweep writes the item only when they differ). */
export function sameGapHistory(a: GapHistory, b: GapHistory): boolean {
  const key = (record: OpenGapRecord | ClosedGapRecord): string => {
    const closed = 'closedAt' in record ? record : undefined;
    return [
      record.timeline,
      record.firstSegno,
      record.lastSegno,
      record.firstSeenAt,
      record.worstStatus,
      record.severity,
      closed?.closedAt,
      closed?.outcome,
      closed?.acknowledgement?.at,
      closed?.acknowledgement?.by,
      closed?.acknowledgement?.reason,
    ].join('|');
  };
  const same = (x: readonly OpenGapRecord[], y: readonly OpenGapRecord[]) =>
    x.length === y.length && x.every((record, i) => key(record) === key(y[i] as OpenGapRecord));
  return same(a.open, b.open) && same(a.closed, b.closed);
}
