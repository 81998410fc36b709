import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundHistory,
  type ClosedGapRecord,
  closedGapOutcomes,
  EMPTY_GAP_HISTORY,
  type GapHistory,
  type GapHistoryAcknowledgement,
  type GapTrackingContext,
  gapRecordId,
  MAX_CLOSED_GAPS,
  MAX_HISTORY_REASON,
  MAX_PENDING_ONLY_GAPS,
  sameGapHistory,
  trackGaps,
} from '../../../shared/core/gap-history.js';
import { walFileName } from '../../../shared/core/lsn.js';
import type { GapReport } from '../../../shared/core/report.js';

const SIZE = 16 * 1024 * 1024;
const T0 = Date.parse('2026-11-01T09:00:00Z');
const HOUR = 3_600_000;

function gap(
  first: number,
  last: number,
  status: GapReport['status'] = 'lost',
  severity: GapReport['severity'] = 'critical',
  timeline = 1,
): GapReport {
  const firstSegment = walFileName(timeline, first, SIZE);
  const lastSegment = walFileName(timeline, last, SIZE);
  return {
    id: `${firstSegment}-${lastSegment}`,
    timeline,
    firstSegment,
    lastSegment,
    count: last - first + 1,
    status,
    severity,
    nextSegmentStoredAt: null,
  };
}

const ack = (reason: string, at = '2026-11-01T10:00:00.000Z'): GapHistoryAcknowledgement => ({
  reason,
  by: 'dba',
  at,
});

function context(
  options: { present?: ReadonlySet<number>; acks?: Record<string, GapHistoryAcknowledgement> } = {},
): GapTrackingContext {
  const present = options.present ?? new Set<number>();
  return {
    segmentSize: SIZE,
    acknowledgements: options.acks ?? {},
    isPresent: (_timeline, first, last) => {
      for (let segno = first; segno <= last; segno++) if (!present.has(segno)) return false;
      return true;
    },
  };
}

const range = (first: number, last: number) =>
  new Set(Array.from({ length: last - first + 1 }, (_, i) => first + i));

describe('trackGaps', () => {
  it('opens a new gap first seen now, with its status and severity', () => {
    const step = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 4, 'pending', 'warning')], T0, context());
    expect(step.history.open).toEqual([
      {
        timeline: 1,
        firstSegno: 4,
        lastSegno: 4,
        firstSeenAt: T0,
        worstStatus: 'pending',
        severity: 'warning',
      },
    ]);
    expect(step.closed).toEqual([]);
  });

  it('keeps when an open gap was first seen and the worst status and severity it reached', () => {
    const first = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 4, 'pending', 'critical')], T0, context());
    const lost = trackGaps(first.history, [gap(4, 4, 'lost', 'critical')], T0 + HOUR, context());
    // A newer backup makes the gap older than the newest restore target: it stays critical in the history.
    const later = trackGaps(lost.history, [gap(4, 4, 'pending', 'warning')], T0 + 2 * HOUR, context());
    expect(later.history.open).toEqual([
      {
        timeline: 1,
        firstSegno: 4,
        lastSegno: 4,
        firstSeenAt: T0,
        worstStatus: 'lost',
        severity: 'critical',
      },
    ]);
  });

  it('closes a gap whose segments arrived as filled, at now', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 4)], T0, context());
    const step = trackGaps(open.history, [], T0 + 3 * HOUR, context({ present: range(1, 10) }));
    expect(step.history.open).toEqual([]);
    expect(step.closed).toEqual([
      {
        timeline: 1,
        firstSegno: 4,
        lastSegno: 4,
        firstSeenAt: T0,
        worstStatus: 'lost',
        severity: 'critical',
        closedAt: T0 + 3 * HOUR,
        outcome: 'filled',
      },
    ]);
    expect(step.history.closed).toEqual(step.closed);
  });

  it('closes a gap whose segments are still absent as out-of-range', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 6)], T0, context());
    // Segment 5 still absent: retention removed the backup that needed the range, which is no longer checked.
    const step = trackGaps(open.history, [], T0 + HOUR, context({ present: new Set([4, 6]) }));
    expect(step.closed.map((record) => record.outcome)).toEqual(['out-of-range']);
  });

  it('continues a gap that shrank: the shorter gap keeps when it was first seen, nothing closes', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 6)], T0, context());
    const step = trackGaps(open.history, [gap(5, 6)], T0 + HOUR, context({ present: new Set([4]) }));
    expect(step.closed).toEqual([]);
    expect(step.history.open).toEqual([
      {
        timeline: 1,
        firstSegno: 5,
        lastSegno: 6,
        firstSeenAt: T0,
        worstStatus: 'lost',
        severity: 'critical',
      },
    ]);
  });

  it('continues a gap that split into both parts', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 8, 'lost', 'warning')], T0, context());
    const step = trackGaps(open.history, [gap(4, 5, 'lost'), gap(7, 8, 'lost')], T0 + HOUR, context());
    expect(step.closed).toEqual([]);
    expect(step.history.open.map((r) => [r.firstSegno, r.lastSegno, r.firstSeenAt, r.severity])).toEqual([
      [4, 5, T0, 'critical'],
      [7, 8, T0, 'critical'],
    ]);
  });

  it('continues gaps that merged: the earliest first sighting and the worst status of both', () => {
    let history = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 5, 'lost', 'warning')], T0, context()).history;
    history = trackGaps(
      history,
      [gap(4, 5, 'lost', 'warning'), gap(7, 8, 'pending', 'critical')],
      T0 + HOUR,
      context(),
    ).history;
    const step = trackGaps(history, [gap(4, 8, 'pending', 'warning')], T0 + 2 * HOUR, context());
    expect(step.closed).toEqual([]);
    expect(step.history.open).toEqual([
      {
        timeline: 1,
        firstSegno: 4,
        lastSegno: 8,
        firstSeenAt: T0,
        worstStatus: 'lost',
        severity: 'critical',
      },
    ]);
  });

  it('tells timelines apart: the same segment numbers on another timeline are another gap', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 4)], T0, context());
    const step = trackGaps(open.history, [gap(4, 4, 'lost', 'critical', 2)], T0 + HOUR, context());
    expect(step.closed.map((r) => r.timeline)).toEqual([1]);
    expect(step.history.open.map((r) => [r.timeline, r.firstSeenAt])).toEqual([[2, T0 + HOUR]]);
  });

  it('closes an acknowledged gap with its acknowledgement, and withdraws it so a re-opened gap alerts again', () => {
    const id = gap(4, 4).id;
    const given = ack('lost in incident 42');
    const open = trackGaps(
      EMPTY_GAP_HISTORY,
      [gap(4, 4, 'acknowledged')],
      T0,
      context({ acks: { [id]: given } }),
    );
    const filled = trackGaps(
      open.history,
      [],
      T0 + HOUR,
      context({ present: range(1, 9), acks: { [id]: given } }),
    );
    expect(filled.closed).toEqual([expect.objectContaining({ outcome: 'filled', acknowledgement: given })]);
    expect(filled.withdrawn).toEqual({ [id]: given });
    // The withdrawal was lost (a crash): the history still knows the gap closed, so it is withdrawn again.
    const again = trackGaps(filled.history, [], T0 + 2 * HOUR, context({ acks: { [id]: given } }));
    expect(again.withdrawn).toEqual({ [id]: given });
    expect(again.closed).toEqual([]);
    // Re-opened under the same id, without the acknowledgement: a new gap, first seen now.
    const reopened = trackGaps(filled.history, [gap(4, 4, 'lost')], T0 + 3 * HOUR, context());
    expect(reopened.history.open).toEqual([
      expect.objectContaining({ firstSeenAt: T0 + 3 * HOUR, worstStatus: 'lost' }),
    ]);
    expect(reopened.history.closed).toHaveLength(1);
  });

  it('keeps the first 280 characters of a long reason in the history, the live acknowledgement whole', () => {
    const id = gap(4, 4).id;
    const given = ack('😀'.repeat(1000));
    const open = trackGaps(
      EMPTY_GAP_HISTORY,
      [gap(4, 4, 'acknowledged')],
      T0,
      context({ acks: { [id]: given } }),
    );
    const step = trackGaps(open.history, [], T0 + HOUR, context({ acks: { [id]: given } }));
    const kept = step.closed[0]?.acknowledgement?.reason ?? '';
    expect(Array.from(kept)).toHaveLength(MAX_HISTORY_REASON);
    expect(kept.endsWith('😀…')).toBe(true);
    expect(step.withdrawn[id]).toBe(given);
  });

  it('keeps an acknowledgement of a gap tracking has not seen yet', () => {
    const id = gap(9, 9).id;
    const step = trackGaps(EMPTY_GAP_HISTORY, [], T0, context({ acks: { [id]: ack('early') } }));
    expect(step.withdrawn).toEqual({});
  });

  it('hands the acknowledgement of a gap that shrank or split to the parts, under their ids', () => {
    const whole = gap(4, 8);
    const given = ack('known incident');
    const open = trackGaps(
      EMPTY_GAP_HISTORY,
      [gap(4, 8, 'acknowledged')],
      T0,
      context({ acks: { [whole.id]: given } }),
    );
    const step = trackGaps(
      open.history,
      [gap(4, 5), gap(7, 8)],
      T0 + HOUR,
      context({ acks: { [whole.id]: given } }),
    );
    expect(step.inherited).toEqual({ [gap(4, 5).id]: given, [gap(7, 8).id]: given });
    expect(step.withdrawn).toEqual({ [whole.id]: given });
    expect(step.history.open.map((r) => r.worstStatus)).toEqual(['acknowledged', 'acknowledged']);
  });

  it('inherits no acknowledgement into a merged gap with segments nobody acknowledged', () => {
    const given = ack('known');
    const acks = { [gap(4, 5).id]: given };
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 5, 'acknowledged'), gap(7, 8)], T0, context({ acks }));
    const step = trackGaps(open.history, [gap(4, 8)], T0 + HOUR, context({ acks }));
    expect(step.inherited).toEqual({});
    // Segment 6 was never part of an acknowledged gap: covering 4…5 is not enough. Acknowledged 4…5 and 6…8
    // together cover it.
    const all = { [gap(4, 5).id]: given, [gap(6, 8).id]: ack('later', '2026-11-01T12:00:00.000Z') };
    const parts = trackGaps(
      EMPTY_GAP_HISTORY,
      [gap(4, 5, 'acknowledged'), gap(6, 8, 'acknowledged')],
      T0,
      context({ acks: all }),
    );
    const covered = trackGaps(parts.history, [gap(4, 8)], T0 + HOUR, context({ acks: all }));
    // Every segment was acknowledged: the earliest acknowledgement carries over.
    expect(covered.inherited).toEqual({ [gap(4, 8).id]: given });
  });

  it('is idempotent: the same gaps at the same time again close nothing and change nothing', () => {
    const open = trackGaps(EMPTY_GAP_HISTORY, [gap(4, 4), gap(9, 9)], T0, context());
    const first = trackGaps(open.history, [gap(9, 9)], T0 + HOUR, context({ present: range(1, 8) }));
    const again = trackGaps(first.history, [gap(9, 9)], T0 + HOUR, context({ present: range(1, 8) }));
    expect(again.closed).toEqual([]);
    expect(sameGapHistory(again.history, first.history)).toBe(true);
  });
});

describe('boundHistory', () => {
  const closedAt = (n: number, worstStatus: ClosedGapRecord['worstStatus'] = 'lost'): ClosedGapRecord => ({
    timeline: 1,
    firstSegno: n,
    lastSegno: n,
    firstSeenAt: T0,
    worstStatus,
    severity: 'critical',
    closedAt: T0 + n * 60_000,
    outcome: 'filled',
  });

  it('tells how each closed gap closed by its id, the newest record of an id winning', () => {
    const record = closedAt(4);
    const id = gapRecordId(record, SIZE);
    const reopened = { ...record, closedAt: record.closedAt + HOUR, outcome: 'out-of-range' as const };
    const history = { open: [], closed: [record, reopened, closedAt(7)] };
    const outcomes = closedGapOutcomes(history, SIZE);
    expect(outcomes.get(id)).toBe('out-of-range');
    expect(outcomes.get(gapRecordId(closedAt(7), SIZE))).toBe('filled');
    expect(closedGapOutcomes({ ...history, closed: [reopened, record] }, SIZE).get(id)).toBe('out-of-range');
    expect(outcomes.size).toBe(2);
  });

  it('keeps the newest closed gaps, newest first', () => {
    const kept = boundHistory(Array.from({ length: 60 }, (_, i) => closedAt(i + 1)));
    expect(kept).toHaveLength(MAX_CLOSED_GAPS);
    expect(kept[0]?.firstSegno).toBe(60);
    expect(kept.at(-1)?.firstSegno).toBe(11);
  });

  it('keeps at most ten gaps that were only ever pending, so upload holes do not crowd out the rest', () => {
    const records = [
      ...Array.from({ length: 30 }, (_, i) => closedAt(i + 100, 'pending')),
      ...Array.from({ length: 5 }, (_, i) => closedAt(i + 1, 'lost')),
      { ...closedAt(50, 'pending'), acknowledgement: ack('looked at it') },
    ];
    const kept = boundHistory(records);
    const pendingOnly = kept.filter((r) => r.worstStatus === 'pending' && !r.acknowledgement);
    expect(pendingOnly).toHaveLength(MAX_PENDING_ONLY_GAPS);
    expect(pendingOnly.map((r) => r.firstSegno)).toEqual(Array.from({ length: 10 }, (_, i) => 129 - i));
    expect(kept.filter((r) => r.worstStatus === 'lost')).toHaveLength(5);
    expect(kept.some((r) => r.firstSegno === 50)).toBe(true);
  });

  it('holds the bounds for any sequence of sweeps (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 12 }), {
          minLength: 1,
          maxLength: 60,
        }),
        (sweeps) => {
          let history: GapHistory = EMPTY_GAP_HISTORY;
          let closedTotal = 0;
          sweeps.forEach((holes, i) => {
            const missing = [...new Set(holes)].sort((a, b) => a - b);
            const runs: GapReport[] = [];
            for (const segno of missing) {
              const last = runs.at(-1);
              if (last && last.count + Number.parseInt(last.firstSegment.slice(16), 16) === segno)
                runs[runs.length - 1] = gap(
                  Number.parseInt(last.firstSegment.slice(16), 16),
                  segno,
                  i % 2 ? 'lost' : 'pending',
                );
              else runs.push(gap(segno, segno, i % 2 ? 'lost' : 'pending'));
            }
            const present = new Set(
              Array.from({ length: 41 }, (_, n) => n).filter((n) => !missing.includes(n)),
            );
            const step = trackGaps(history, runs, T0 + i * 60_000, context({ present }));
            closedTotal += step.closed.length;
            history = step.history;
            // Every open gap is one of the current gaps, once.
            expect(history.open.map((r) => gapRecordId(r, SIZE))).toEqual(runs.map((g) => g.id));
          });
          expect(history.closed.length).toBeLessThanOrEqual(Math.min(MAX_CLOSED_GAPS, closedTotal));
          expect(history.closed.filter((r) => r.worstStatus === 'pending').length).toBeLessThanOrEqual(
            MAX_PENDING_ONLY_GAPS,
          );
        },
      ),
    );
  });
});
