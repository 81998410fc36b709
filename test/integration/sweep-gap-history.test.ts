/**
 * Gap history through real sweeps, over the in-memory store and the DynamoDB store on dynalite: a gap that
 * closes is recorded once (filled, with when it was first seen), its acknowledgement closes with it so a
 * re-opened gap alerts again, and sweeps running at once over the same cluster neither lose nor duplicate a
 * closed gap.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../shared/api/monitor-data.js';
import type { ClosedGapRecord } from '../../shared/core/gap-history.js';
import { MemoryArchive } from '../../shared/core/memory-archive.js';
import { buildClusterStates, type ClusterState } from '../../shared/core/state.js';
import { sweep } from '../../shared/monitor/sweep.js';
import { getClusterState, putClusterState } from '../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../shared/store/monitor-items.js';
import { contentLookup, type GeneratedObject, generateArchive } from '../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';

const MIB = 1024 * 1024;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const CLUSTER = 'spilo/superman/wal/15';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

/** Every object of a 20-segment archive with one backup, segments stored a minute apart. */
const ARCHIVE = generateArchive({
  clusterId: CLUSTER,
  segmentSize: 16 * MIB,
  segments: 20,
  switches: [],
  backups: [1],
});
const segment = (name: string): GeneratedObject[] => ARCHIVE.filter((o) => o.key.includes(`/${name}.`));
const withoutSegments = (...names: string[]): GeneratedObject[] =>
  ARCHIVE.filter((o) => !names.some((name) => o.key.includes(`/${name}.`)));
const LAST_AT = Math.max(...ARCHIVE.map((o) => o.at));
const SEG_A = '000000010000000000000008';
const SEG_B = '00000001000000000000000C';
const gapOf = (name: string) => `${name}-${name}`;

class Scenario {
  readonly archive = new MemoryArchive(() => 16 * MIB);
  readonly data: MonitorData;
  readonly sent: Array<{ subject: string; body: string }> = [];
  private sequence = 0;

  constructor(
    readonly store: 'memory' | 'dynalite',
    private readonly table: string,
  ) {
    this.data =
      store === 'memory'
        ? createMemoryMonitorData(this.archive.states)
        : createDynamoMonitorData(dynamo.db, table);
  }

  async apply(objects: readonly GeneratedObject[], type: 'created' | 'removed' = 'created'): Promise<void> {
    const contents = contentLookup(objects);
    for (const object of objects) {
      this.sequence += 1;
      this.archive.apply(
        { ...object, type, sequencer: this.sequence.toString(16).padStart(8, '0') },
        contents(object.key),
      );
    }
    if (this.store === 'memory') {
      await this.data.markFleetRowChanged(CLUSTER);
      return;
    }
    const state = this.archive.states.get(CLUSTER) as ClusterState;
    const stored = await getClusterState(dynamo.db, this.table, CLUSTER);
    expect(await putClusterState(dynamo.db, this.table, state, stored?.ver ?? 0)).toBe('written');
  }

  sweepAt(now: number) {
    return sweep({
      data: this.data,
      now: () => now,
      publish: async (notification) => {
        this.sent.push(notification);
      },
      emitMetrics: () => {},
    });
  }

  async history(): Promise<{ open: string[]; closed: ClosedGapRecord[] }> {
    const gaps = (await this.data.getAlertState(CLUSTER)).gaps ?? { open: [], closed: [] };
    return {
      open: gaps.open.map((r) => `${r.firstSegno}-${r.lastSegno}@${r.firstSeenAt}`),
      closed: [...gaps.closed],
    };
  }

  gapAlerts(): string[] {
    return this.sent.map((n) => n.subject).filter((subject) => subject.includes('wal-gap'));
  }
}

let tables = 0;
describe.each(['memory', 'dynalite'] as const)('gap history over the %s store', (store) => {
  const scenario = async () => new Scenario(store, await dynamo.createTable(`gaps-${++tables}`));

  it('records a gap that was lost for hours and then filled, once, with when it was first seen', async () => {
    const s = await scenario();
    await s.apply(withoutSegments(SEG_A));
    const firstSeen = LAST_AT + 10 * MINUTE;
    await s.sweepAt(firstSeen);
    expect((await s.history()).open).toEqual([`8-8@${firstSeen}`]);
    expect(s.gapAlerts()).toEqual([`[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_A}`]);

    await s.apply(segment(SEG_A));
    const filledAt = firstSeen + 3 * HOUR;
    await s.sweepAt(filledAt);
    await s.sweepAt(filledAt + MINUTE);
    const history = await s.history();
    expect(history.open).toEqual([]);
    expect(history.closed).toEqual([
      {
        timeline: 1,
        firstSegno: 8,
        lastSegno: 8,
        firstSeenAt: firstSeen,
        worstStatus: 'lost',
        severity: 'critical',
        closedAt: filledAt,
        outcome: 'filled',
      },
    ]);
    expect(s.gapAlerts()).toHaveLength(2);
    expect(s.gapAlerts()[1]).toBe(`[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_A}`);
    // The resolution says how the gap closed, as its history recorded it.
    expect(s.sent.find((n) => n.subject.includes('RESOLVED'))?.body).toContain(
      'Resolved after 3 h (filled: the missing segments are archived now)',
    );
  });

  it('closes an acknowledgement with its gap: the gap re-opened under the same id alerts again', async () => {
    const s = await scenario();
    await s.apply(withoutSegments(SEG_A));
    const t = LAST_AT + 10 * MINUTE;
    await s.sweepAt(t);
    const given = { reason: 'lost in incident 42', by: 'dba', at: new Date(t + MINUTE).toISOString() };
    await s.data.acknowledgeGap(CLUSTER, gapOf(SEG_A), given);
    await s.sweepAt(t + 2 * MINUTE);
    expect(s.gapAlerts()).toEqual([
      `[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_A}`,
      `[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_A}`,
    ]);

    await s.apply(segment(SEG_A));
    await s.sweepAt(t + HOUR);
    expect((await s.history()).closed).toEqual([
      expect.objectContaining({ outcome: 'filled', worstStatus: 'acknowledged', acknowledgement: given }),
    ]);
    expect(await s.data.getAcknowledgements(CLUSTER)).toEqual({});

    // The segment goes missing again: the same gap id, no acknowledgement, so it alerts.
    await s.apply(segment(SEG_A), 'removed');
    const reopened = await s.sweepAt(t + 2 * HOUR);
    expect(reopened.reports[0]?.gaps).toEqual([
      expect.objectContaining({ id: gapOf(SEG_A), status: 'lost' }),
    ]);
    expect(s.gapAlerts().at(-1)).toBe(`[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_A}`);
    expect((await s.history()).open).toEqual([`8-8@${t + 2 * HOUR}`]);
  });

  it('hands the acknowledgement of a gap that shrank to the shorter gap, which does not alert again', async () => {
    const s = await scenario();
    const [eight, nine, ten] = [
      '000000010000000000000008',
      '000000010000000000000009',
      '00000001000000000000000A',
    ];
    await s.apply(withoutSegments(eight, nine, ten));
    const t = LAST_AT + 10 * MINUTE;
    await s.sweepAt(t);
    const given = { reason: 'known outage', by: 'dba', at: new Date(t + MINUTE).toISOString() };
    await s.data.acknowledgeGap(CLUSTER, `${eight}-${ten}`, given);
    await s.sweepAt(t + 2 * MINUTE);
    const alertsBefore = s.gapAlerts().length;

    await s.apply(segment(eight));
    const result = await s.sweepAt(t + HOUR);
    expect(result.reports[0]?.gaps).toEqual([
      expect.objectContaining({ id: `${nine}-${ten}`, status: 'acknowledged' }),
    ]);
    expect(s.gapAlerts()).toHaveLength(alertsBefore);
    expect(await s.data.getAcknowledgements(CLUSTER)).toEqual({ [`${nine}-${ten}`]: given });
    const history = await s.history();
    expect(history.open).toEqual([`9-10@${t}`]);
    expect(history.closed).toEqual([]);
  });

  it('leaves one consistent history when sweeps run at once, at the same and at different times', async () => {
    const s = await scenario();
    await s.apply(withoutSegments(SEG_A, SEG_B));
    const t = LAST_AT + 10 * MINUTE;
    await Promise.all(Array.from({ length: 6 }, () => s.sweepAt(t)));
    expect((await s.history()).open).toEqual([`8-8@${t}`, `12-12@${t}`]);

    await s.apply(segment(SEG_A));
    // Same time: every run decides the same closure; different times: the latest decides.
    await Promise.all(Array.from({ length: 6 }, () => s.sweepAt(t + HOUR)));
    // Marked changed, every run of the next round analyses the cluster again instead of skipping it.
    await s.data.markFleetRowChanged(CLUSTER);
    const round = await Promise.all(
      Array.from({ length: 6 }, (_, i) => s.sweepAt(t + HOUR + (i + 1) * 1000)),
    );
    expect(round.every((result) => result.analyzed === 1)).toBe(true);
    let history = await s.history();
    expect(history.open).toEqual([`12-12@${t}`]);
    expect(history.closed.map((r) => [r.firstSegno, r.closedAt, r.outcome])).toEqual([
      [8, t + HOUR, 'filled'],
    ]);

    await s.apply(segment(SEG_B));
    await Promise.all(Array.from({ length: 6 }, (_, i) => s.sweepAt(t + 2 * HOUR + (i % 3) * 1000)));
    history = await s.history();
    expect(history.open).toEqual([]);
    expect(history.closed.map((r) => [r.firstSegno, r.firstSeenAt, r.outcome])).toEqual([
      [12, t, 'filled'],
      [8, t, 'filled'],
    ]);
    // Each gap alerted once and resolved once, however many sweeps raced.
    expect(s.gapAlerts().sort()).toEqual(
      [
        `[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_A}`,
        `[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_B}`,
        `[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_A}`,
        `[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_B}`,
      ].sort(),
    );
  });
});

describe('gap history under interleaved concurrent sweeps', () => {
  const stateOf = (objects: readonly GeneratedObject[]): ClusterState =>
    buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).get(CLUSTER) as ClusterState;
  const T1 = LAST_AT + 10 * MINUTE;
  const T2 = T1 + HOUR;
  const T3 = T2 + HOUR;

  it('records each closed gap exactly once whatever the interleaving of reads, writes and publishes', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3, maxLength: 3 }),
        fc.scheduler(),
        async (copies, scheduler) => {
          run += 1;
          const table = await dynamo.createTable(`interleaved-${run}`);
          const store = createDynamoMonitorData(dynamo.db, table);
          const data: MonitorData = {
            ...store,
            getAlertState: scheduler.scheduleFunction((id: string) => store.getAlertState(id)),
            putAlertState: scheduler.scheduleFunction((id, state, ver) =>
              store.putAlertState(id, state, ver),
            ),
            settleAcknowledgements: scheduler.scheduleFunction((id, change) =>
              store.settleAcknowledgements(id, change),
            ),
          };
          const subjects: string[] = [];
          const write = async (objects: readonly GeneratedObject[]) => {
            const stored = await getClusterState(dynamo.db, table, CLUSTER);
            await putClusterState(dynamo.db, table, stateOf(objects), stored?.ver ?? 0);
          };
          const sweepAt = async (now: number, times: number) => {
            const all = Promise.all(
              Array.from({ length: times }, () =>
                sweep({
                  data,
                  now: () => now,
                  emitMetrics: () => {},
                  publish: async (n) => {
                    await scheduler.schedule(Promise.resolve(), 'publish');
                    subjects.push(n.subject);
                  },
                }),
              ),
            );
            await scheduler.waitFor(all);
          };
          await write(withoutSegments(SEG_A, SEG_B));
          await sweepAt(T1, copies[0] as number);
          await write(withoutSegments(SEG_B));
          await sweepAt(T2, copies[1] as number);
          await write(ARCHIVE);
          await sweepAt(T3, copies[2] as number);

          const gaps = (await store.getAlertState(CLUSTER)).gaps;
          expect(gaps?.open).toEqual([]);
          expect(gaps?.closed.map((r) => [r.firstSegno, r.firstSeenAt, r.closedAt, r.outcome])).toEqual([
            [12, T1, T3, 'filled'],
            [8, T1, T2, 'filled'],
          ]);
          expect(subjects.filter((subject) => subject.includes('wal-gap')).sort()).toEqual(
            [
              `[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_A}`,
              `[walwatch] CRITICAL ${CLUSTER}: wal-gap ${SEG_B}`,
              `[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_A}`,
              `[walwatch] RESOLVED ${CLUSTER}: wal-gap ${SEG_B}`,
            ].sort(),
          );
        },
      ),
      { numRuns: 10 },
    );
  }, 120_000);
});
