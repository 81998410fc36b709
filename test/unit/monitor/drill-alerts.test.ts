import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import type { DrillExpectations } from '../../../shared/api/reports.js';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { drillProblems, summarizeDrills, withDrills } from '../../../shared/core/drill-status.js';
import type { ClusterMetrics } from '../../../shared/core/metrics.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { DEFAULT_MAX_SKIP_MS, sweep } from '../../../shared/monitor/sweep.js';
import { putClusterState } from '../../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { drillRecord } from '../../support/drill-records.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const CLUSTER = 'spilo/drilled/wal/15';

function states(): Map<string, ClusterState> {
  const objects = generateArchive({
    clusterId: CLUSTER,
    segmentSize: 16 * MIB,
    segments: 20,
    switches: [],
    backups: [1],
  });
  return buildClusterStates(objects, contentLookup(objects), () => 16 * MIB);
}

describe('drillProblems', () => {
  const now = START + 10 * HOUR;

  it('finds nothing wrong with a verified newest drill', () => {
    expect(drillProblems([drillRecord(CLUSTER, now - HOUR)], now, { staleAfterMs: 72 * HOUR })).toEqual([]);
  });

  it('reports a failed newest drill as critical drill-failed with its reason', () => {
    const problems = drillProblems([drillRecord(CLUSTER, now - HOUR, 'failed')], now);
    expect(problems).toEqual([
      expect.objectContaining({ kind: 'drill-failed', severity: 'critical', subject: 'restore-drill' }),
    ]);
    expect(problems[0]?.message).toContain('000000020000000000000016 could not be fetched');
  });

  it('reports a mismatch with both points side by side', () => {
    const [problem] = drillProblems([drillRecord(CLUSTER, now - HOUR, 'mismatch')], now);
    expect(problem?.kind).toBe('drill-mismatch');
    expect(problem?.severity).toBe('critical');
    expect(problem?.message).toContain(
      'reached 0/39000028, timeline 2, last commit 2026-11-01T00:37:01.000001Z',
    );
    expect(problem?.message).toContain('walwatch predicted 0/3A000F8, timeline 2');
  });

  it('judges only the newest drill: an older failure is history', () => {
    const drills = [drillRecord(CLUSTER, now - HOUR), drillRecord(CLUSTER, now - 25 * HOUR, 'failed')];
    expect(drillProblems(drills, now)).toEqual([]);
  });

  it('reports drill-stale only where drills are expected and none verified within the threshold', () => {
    const drills = [drillRecord(CLUSTER, now - HOUR, 'failed'), drillRecord(CLUSTER, now - 80 * HOUR)];
    expect(drillProblems(drills, now).map((p) => p.kind)).toEqual(['drill-failed']);
    const expected = drillProblems(drills, now, { staleAfterMs: 72 * HOUR });
    expect(expected.map((p) => [p.kind, p.severity])).toEqual([
      ['drill-failed', 'critical'],
      ['drill-stale', 'warning'],
    ]);
    expect(expected[1]?.message).toContain('for 3 d 7 h (last verified 2026-10-29T02:01:00.000Z)');
    expect(drillProblems(drills, now, { staleAfterMs: 90 * HOUR }).map((p) => p.kind)).toEqual([
      'drill-failed',
    ]);
  });

  it('counts a cluster that never had a drill from when drills were expected, if known', () => {
    expect(drillProblems([], now, { staleAfterMs: HOUR })).toEqual([]);
    expect(drillProblems([], now, { staleAfterMs: HOUR, since: now - 2 * HOUR })[0]?.kind).toBe(
      'drill-stale',
    );
    expect(drillProblems([], now, { staleAfterMs: HOUR, since: now - HOUR / 2 })).toEqual([]);
  });
});

describe('withDrills', () => {
  it('sets lastDrill with the last verified time and raises the status with the drill problems', () => {
    const [state] = states().values();
    const now = START + 40 * 60_000;
    const drills = [drillRecord(CLUSTER, now - HOUR, 'mismatch'), drillRecord(CLUSTER, now - 30 * HOUR)];
    const report = withDrills(analyze(state as ClusterState, now), drills, now);
    expect(report.status).toBe('critical');
    expect(report.lastDrill).toEqual({
      ...summarizeDrills(drills),
      verdict: 'mismatch',
      lastVerifiedAt: drills[1]?.finishedAt,
    });
    expect(withDrills(analyze(state as ClusterState, now), [], now).lastDrill).toBeNull();
  });
});

function analyze(state: ClusterState, now: number) {
  return analyzeCluster(state, { now });
}

describe.each(['memory', 'dynalite'] as const)('drill alerts over the %s store', (store) => {
  let dynamo: LocalDynamo | undefined;
  let data: MonitorData;
  beforeAll(async () => {
    if (store === 'dynalite') {
      dynamo = await startDynalite('walwatch-drill-alerts');
      for (const state of states().values()) await putClusterState(dynamo.db, dynamo.table, state, 0);
      data = createDynamoMonitorData(dynamo.db, dynamo.table);
    } else {
      data = createMemoryMonitorData(states());
    }
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('opens drill-failed once, stays quiet while drills keep failing, and resolves once a drill verifies', async () => {
    const sent: string[] = [];
    const metrics = new Map<string | null, ClusterMetrics>();
    let now = START + 40 * 60_000;
    const run = () =>
      sweep({
        data,
        now: () => now,
        publish: async (notification) => {
          sent.push(notification.subject);
        },
        emitMetrics: (cluster, values) => metrics.set(cluster, values),
        // Generous archive and backup thresholds: only the drill problems alert.
        thresholds: { maxArchiveAgeMs: 1000 * HOUR, maxBackupAgeMs: 1000 * HOUR },
      });
    await run();
    expect(sent).toEqual([]);

    await data.putDrill(drillRecord(CLUSTER, now, 'failed'));
    now += 2 * 60_000;
    await run();
    expect(sent).toEqual([`[walwatch] CRITICAL ${CLUSTER}: drill-failed restore-drill`]);
    expect(metrics.get(CLUSTER)).toMatchObject({ LastDrillVerified: 0, LastDrillAgeSeconds: 60 });

    await data.putDrill(drillRecord(CLUSTER, now, 'failed'));
    now += 2 * 60_000;
    await run();
    await run();
    expect(sent).toHaveLength(1);

    await data.putDrill(drillRecord(CLUSTER, now));
    now += 2 * 60_000;
    await run();
    await run();
    expect(sent.slice(1)).toEqual([`[walwatch] RESOLVED ${CLUSTER}: drill-failed restore-drill`]);
    expect(metrics.get(CLUSTER)).toMatchObject({ LastDrillVerified: 1, LastDrillAgeSeconds: 60 });
    expect(metrics.get(null)).toMatchObject({ LastDrillVerified: 1 });
  });

  it('raises drill-stale only for clusters the expectations name', async () => {
    const sent: string[] = [];
    const at = START + 40 * 60_000 + 80 * HOUR;
    const expectations: DrillExpectations = (id) =>
      id === CLUSTER ? { staleAfterMs: 72 * HOUR } : undefined;
    const run = (drills?: DrillExpectations, later = 0) =>
      sweep({
        data,
        now: () => at + later,
        publish: async (notification) => {
          sent.push(notification.subject);
        },
        emitMetrics: () => undefined,
        thresholds: { maxArchiveAgeMs: 1000 * HOUR, maxBackupAgeMs: 1000 * HOUR },
        ...(drills ? { drills } : {}),
      });
    await run();
    expect(sent).toEqual([]);
    // New expectations reach an unchanged cluster at its next analysis: the sweeper's backstop at the latest.
    await run(expectations, DEFAULT_MAX_SKIP_MS);
    expect(sent).toEqual([`[walwatch] WARNING ${CLUSTER}: drill-stale restore-drill`]);
  });
});
