import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorData } from '../../shared/api/monitor-data.js';
import { MemoryArchive } from '../../shared/core/memory-archive.js';
import type { ClusterMetrics } from '../../shared/core/metrics.js';
import type { ClusterState } from '../../shared/core/state.js';
import { sweep } from '../../shared/monitor/sweep.js';
import { getClusterState, putClusterState } from '../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../shared/store/monitor-items.js';
import { contentLookup, type GeneratedObject, generateArchive } from '../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
const CLUSTER = 'spilo/superman/wal/15';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

/** An archive that grows by events and is stored the way the ingest pipeline stores it. */
class Scenario {
  readonly archive = new MemoryArchive(() => 16 * MIB);
  readonly data: MonitorData;
  readonly sent: Array<{ id: string; subject: string; body: string }> = [];
  readonly metrics: Array<{ cluster: string | null; values: ClusterMetrics }> = [];
  private sequence = 0;
  failPublishing = false;

  constructor(readonly table: string) {
    this.data = createDynamoMonitorData(dynamo.db, table);
  }

  async store(objects: readonly GeneratedObject[], type: 'created' | 'removed' = 'created'): Promise<void> {
    const contents = contentLookup(objects);
    for (const object of objects) {
      this.sequence += 1;
      this.archive.apply(
        { ...object, type, sequencer: this.sequence.toString(16).padStart(8, '0') },
        contents(object.key),
      );
    }
    const state = this.archive.states.get(CLUSTER) as ClusterState;
    const stored = await getClusterState(dynamo.db, this.table, CLUSTER);
    expect(await putClusterState(dynamo.db, this.table, state, stored?.ver ?? 0)).toBe('written');
  }

  async sweepAt(now: number) {
    return sweep({
      data: this.data,
      now: () => now,
      apiUrl: 'https://api.example',
      publish: async (notification) => {
        if (this.failPublishing) throw new Error('SNS unavailable');
        this.sent.push(notification);
      },
      emitMetrics: (cluster, values) => this.metrics.push({ cluster, values }),
    });
  }

  subjects(): string[] {
    return this.sent.map((n) => n.subject);
  }
}

/** Segments 1…n of a cluster with one backup, stored a minute apart. */
function segments(from: number, to: number, holes: number[] = []): GeneratedObject[] {
  return generateArchive({
    clusterId: CLUSTER,
    segmentSize: 16 * MIB,
    segments: to,
    switches: [],
    backups: from === 1 ? [1] : [],
    holes,
  }).filter((o) => {
    const match = /wal_005\/([0-9A-F]{24})/.exec(o.key);
    return !match || Number.parseInt((match[1] as string).slice(16), 16) >= from;
  });
}
const at = (segno: number): number => START + (segno - 1) * MINUTE;

describe('sweep', () => {
  it('alerts once when archiving stops and once when it resumes', async () => {
    const scenario = new Scenario(await dynamo.createTable('stale'));
    await scenario.store(segments(1, 10));
    await scenario.sweepAt(at(10) + MINUTE);
    expect(scenario.sent).toEqual([]);

    await scenario.sweepAt(at(10) + 61 * MINUTE);
    await scenario.sweepAt(at(10) + 62 * MINUTE);
    expect(scenario.subjects()).toEqual([`[walwatch] CRITICAL ${CLUSTER}: archive-stale wal`]);
    expect(scenario.sent[0]?.body).toContain('no WAL segment has been archived for 1 h 1 min');
    expect(scenario.sent[0]?.body).toContain(
      'Report: https://api.example/clusters/spilo%2Fsuperman%2Fwal%2F15',
    );

    await scenario.store(segments(11, 75).filter((o) => o.at <= at(10) + 63 * MINUTE));
    await scenario.sweepAt(at(10) + 63 * MINUTE);
    await scenario.sweepAt(at(10) + 64 * MINUTE);
    expect(scenario.subjects()).toEqual([
      `[walwatch] CRITICAL ${CLUSTER}: archive-stale wal`,
      `[walwatch] RESOLVED ${CLUSTER}: archive-stale wal`,
    ]);
  });

  it('alerts once on a lost segment, and stops after it is acknowledged', async () => {
    const scenario = new Scenario(await dynamo.createTable('gap'));
    await scenario.store(segments(1, 16, [14]));
    await scenario.sweepAt(at(16) + MINUTE); // the hole is still pending: WAL-G uploads in parallel
    expect(scenario.sent).toEqual([]);
    await scenario.store(segments(17, 20));
    await scenario.sweepAt(at(20) + 10 * MINUTE);
    await scenario.sweepAt(at(20) + 11 * MINUTE);
    const gapId = '00000001000000000000000F-00000001000000000000000F';
    expect(scenario.subjects()).toEqual([`[walwatch] CRITICAL ${CLUSTER}: wal-gap 00000001000000000000000F`]);
    expect(scenario.sent[0]?.body).toContain(
      '1 WAL segment(s) 00000001000000000000000F…00000001000000000000000F are missing',
    );
    expect(scenario.metrics.filter((m) => m.cluster === CLUSTER).at(-1)?.values).toMatchObject({
      LostGapSegments: 1,
      CriticalProblems: 1,
    });
    expect(scenario.metrics.filter((m) => m.cluster === null).at(-1)?.values).toMatchObject({
      LostGapSegments: 1,
    });

    await scenario.data.acknowledgeGap(CLUSTER, gapId, {
      reason: 'lost in incident 42',
      by: 'dba',
      at: new Date().toISOString(),
    });
    await scenario.sweepAt(at(20) + 12 * MINUTE);
    await scenario.sweepAt(at(20) + 13 * MINUTE);
    // Acknowledging ends the problem: one "resolved", then silence.
    expect(scenario.subjects()).toEqual([
      `[walwatch] CRITICAL ${CLUSTER}: wal-gap 00000001000000000000000F`,
      `[walwatch] RESOLVED ${CLUSTER}: wal-gap 00000001000000000000000F`,
    ]);
  });

  it('alerts on a deleted needed segment', async () => {
    const scenario = new Scenario(await dynamo.createTable('deleted'));
    const objects = segments(1, 12);
    await scenario.store(objects);
    await scenario.store(
      objects.filter((o) => o.key.endsWith('000000010000000000000007.lz4')),
      'removed',
    );
    await scenario.sweepAt(at(12) + MINUTE);
    expect(scenario.subjects()).toEqual(
      expect.arrayContaining([`[walwatch] CRITICAL ${CLUSTER}: wal-deleted 000000010000000000000007`]),
    );
  });

  it('sends each transition once when sweeps run concurrently', async () => {
    const scenario = new Scenario(await dynamo.createTable('concurrent'));
    await scenario.store(segments(1, 10));
    await Promise.all(Array.from({ length: 6 }, () => scenario.sweepAt(at(10) + 90 * MINUTE)));
    expect(scenario.subjects()).toEqual([`[walwatch] CRITICAL ${CLUSTER}: archive-stale wal`]);
  });

  it('keeps unsent alerts and sends them on a later sweep, once', async () => {
    const scenario = new Scenario(await dynamo.createTable('retry'));
    await scenario.store(segments(1, 10));
    scenario.failPublishing = true;
    const failed = await scenario.sweepAt(at(10) + 90 * MINUTE);
    expect(failed.publishFailures).toBe(1);
    expect(scenario.sent).toEqual([]);
    scenario.failPublishing = false;
    await scenario.sweepAt(at(10) + 91 * MINUTE); // still claimed by the failed run
    expect(scenario.sent).toEqual([]);
    await scenario.sweepAt(at(10) + 96 * MINUTE);
    await scenario.sweepAt(at(10) + 97 * MINUTE);
    expect(scenario.subjects()).toEqual([`[walwatch] CRITICAL ${CLUSTER}: archive-stale wal`]);
  });
});
