import { describe, expect, it } from 'vitest';
import { diffAlerts, type OpenAlerts, snsSubject } from '../../../shared/core/alerts.js';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { clusterMetrics, fleetMetrics } from '../../../shared/core/metrics.js';
import type { ClusterReport, Problem } from '../../../shared/core/report.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');

function reportAt(now: number, holes: number[] = []): ClusterReport {
  const objects = generateArchive({
    clusterId: 'spilo/superman/wal/15',
    segmentSize: 16 * MIB,
    segments: 20,
    switches: [],
    backups: [1],
    holes,
  });
  const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
  return analyzeCluster(state as NonNullable<typeof state>, { now });
}

function withProblems(report: ClusterReport, problems: Problem[]): ClusterReport {
  return { ...report, problems };
}

describe('diffAlerts', () => {
  const fresh = reportAt(START + 20 * 60_000);
  const gap: Problem = {
    kind: 'wal-gap',
    severity: 'critical',
    subject: 'A-A',
    message: '1 WAL segment(s) A…A are missing',
  };

  it('opens an alert once, keeps it quiet while open, and resolves it once', () => {
    const first = diffAlerts({}, withProblems(fresh, [gap]), 1000, { apiUrl: 'https://api.example/' });
    expect(first.notifications.map((n) => n.transition)).toEqual(['opened']);
    expect(first.notifications[0]?.subject).toBe('[walwatch] CRITICAL spilo/superman/wal/15: wal-gap A-A');
    expect(first.notifications[0]?.body).toContain(
      'Report: https://api.example/clusters/spilo%2Fsuperman%2Fwal%2F15',
    );
    expect(first.notifications[0]?.body).toContain('What to do:');

    const second = diffAlerts(first.open, withProblems(fresh, [gap]), 2000);
    expect(second.notifications).toEqual([]);
    expect(second.open).toEqual(first.open);

    const third = diffAlerts(second.open, withProblems(fresh, []), 61_000);
    expect(third.notifications.map((n) => [n.transition, n.subject])).toEqual([
      ['resolved', '[walwatch] RESOLVED spilo/superman/wal/15: wal-gap A-A'],
    ]);
    expect(third.notifications[0]?.body).toContain(
      'Resolved after 1 min (filled: the segments are archived now',
    );
    expect(third.open).toEqual({});
  });

  it('says a gap alert resolved because an operator acknowledged the gap', () => {
    const holed = reportAt(START + 30 * 60_000, [9]);
    const lost = holed.gaps[0];
    expect(lost?.status).toBe('lost');
    const problem = holed.problems.find((p) => p.kind === 'wal-gap') as Problem;
    const opened = diffAlerts({}, withProblems(holed, [problem]), 1000);
    const acknowledged: ClusterReport = {
      ...holed,
      gaps: holed.gaps.map((g) => ({ ...g, status: 'acknowledged' as const })),
      problems: [],
    };
    const resolved = diffAlerts(opened.open, acknowledged, 2000).notifications[0];
    expect(resolved?.transition).toBe('resolved');
    expect(resolved?.body).toContain('(acknowledged by an operator)');
  });

  it('says how a gap closed when the gap history knows it: filled, or out of range', () => {
    const holed = reportAt(START + 30 * 60_000, [9]);
    const lost = holed.gaps[0] as ClusterReport['gaps'][number];
    const problem = holed.problems.find((p) => p.kind === 'wal-gap') as Problem;
    const opened = diffAlerts({}, withProblems(holed, [problem]), 1000);
    const gone: ClusterReport = { ...holed, gaps: [], problems: [] };
    const said = (outcome?: 'filled' | 'out-of-range') =>
      diffAlerts(opened.open, gone, 2000, outcome ? { closedGaps: new Map([[lost.id, outcome]]) } : {})
        .notifications[0]?.body;
    expect(said('filled')).toContain('(filled: the missing segments are archived now)');
    expect(said('out-of-range')).toContain(
      '(out of range: the segments are still absent, but no backup needs them any more)',
    );
    // Without history (a store written before it), both causes are named.
    expect(said()).toContain('(filled: the segments are archived now, or no backup needs them any more)');
  });

  it('escalates when the severity rises, but not when it falls', () => {
    const warning = { ...gap, severity: 'warning' as const };
    const opened = diffAlerts({}, withProblems(fresh, [warning]), 1000);
    const escalated = diffAlerts(opened.open, withProblems(fresh, [gap]), 2000);
    expect(escalated.notifications.map((n) => n.transition)).toEqual(['escalated']);
    const calmer = diffAlerts(escalated.open, withProblems(fresh, [warning]), 3000);
    expect(calmer.notifications).toEqual([]);
  });

  it('gives each notification a stable id so retries can be deduplicated', () => {
    const a = diffAlerts({}, withProblems(fresh, [gap]), 1000).notifications[0];
    const b = diffAlerts({}, withProblems(fresh, [gap]), 1000).notifications[0];
    expect(a?.id).toBe(b?.id);
  });

  it('never alerts on info problems', () => {
    const info: Problem = { kind: 'unknown-objects', severity: 'info', subject: '3', message: '3 objects' };
    expect(diffAlerts({}, withProblems(fresh, [info]), 1).notifications).toEqual([]);
  });

  it('resolves alerts that were open before even when the report has nothing', () => {
    const previous: OpenAlerts = {
      'archive-stale|wal': {
        kind: 'archive-stale',
        subject: 'wal',
        severity: 'critical',
        message: 'stale',
        openedAt: 0,
      },
    };
    expect(diffAlerts(previous, fresh, 5).notifications.map((n) => n.transition)).toEqual(['resolved']);
  });
});

describe('snsSubject', () => {
  it('keeps subjects ASCII and under 100 characters', () => {
    const subject = snsSubject(`[walwatch] CRITICAL spilo/sûper/wal/15: ${'x'.repeat(200)}`);
    expect(subject.length).toBeLessThan(100);
    expect(/^[\x20-\x7E]+$/.test(subject)).toBe(true);
  });
});

describe('clusterMetrics / fleetMetrics', () => {
  it('measures ages, lost gap segments and critical problems', () => {
    const report = reportAt(START + 30 * 60_000, [5, 6]);
    const metrics = clusterMetrics(report);
    expect(metrics).toMatchObject({ LostGapSegments: 2, CriticalProblems: 1 });
    expect(metrics.ArchiveAgeSeconds).toBe(report.archiveAgeSeconds);
    expect(metrics.RecoveryPointLagSeconds).toBe(report.recoveryPointLagSeconds);
  });

  it('takes the maxima across clusters', () => {
    const older = reportAt(START + 90 * 60_000);
    const newer = reportAt(START + 30 * 60_000, [5]);
    expect(fleetMetrics([older, newer])).toMatchObject({
      ArchiveAgeSeconds: older.archiveAgeSeconds,
      LostGapSegments: 1,
      CriticalProblems: Math.max(clusterMetrics(older).CriticalProblems, 1),
    });
  });
});
