import { describe, expect, it } from 'vitest';
import { createMemoryMonitorData } from '../../../shared/api/monitor-data.js';
import { parseDrillPolicy } from '../../../shared/config/drill-policy.js';
import type { DrillRecord } from '../../../shared/core/drill.js';
import type { ClusterState } from '../../../shared/core/state.js';
import { type DrillSchedulerOptions, startDrillScheduler } from '../../../shared/local/drill-scheduler.js';
import { drillRecord } from '../../support/drill-records.js';

const HOUR = 3_600_000;
const START = Date.parse('2026-11-01T00:00:00Z');

/** A store that knows the clusters by id only: the schedule lists them and reads their drills. */
function store(ids: string[]) {
  return createMemoryMonitorData(new Map(ids.map((id) => [id, {} as ClusterState])));
}

/** A schedule on a hand-moved clock, checking only when told to. */
function schedule(overrides: Partial<DrillSchedulerOptions> & Pick<DrillSchedulerOptions, 'data'>) {
  const clock = { now: START };
  const ran: string[] = [];
  const log: string[] = [];
  const scheduler = startDrillScheduler({
    policy: parseDrillPolicy('24h; off=spilo/scratch/*', '--drill-every', 'off'),
    runDrill: async (id) => {
      ran.push(id);
      return drillRecord(id, clock.now);
    },
    staleAfterMs: (_id, every) => 3 * every,
    now: () => clock.now,
    log: (line) => log.push(line),
    checkEveryMs: 24 * HOUR,
    ...overrides,
  });
  return { clock, ran, log, scheduler };
}

describe('startDrillScheduler', () => {
  it('drills each cluster when due and not before, skipping clusters the policy turns off', async () => {
    const data = store(['spilo/a/wal/15', 'spilo/b/wal/15', 'spilo/scratch/x']);
    const { clock, ran, scheduler } = schedule({ data });
    try {
      await scheduler.runDue(); // after the first check, which starts at once
      expect(ran).toEqual(['spilo/a/wal/15', 'spilo/b/wal/15']);
      clock.now += 23 * HOUR;
      await scheduler.runDue();
      expect(ran).toHaveLength(2);
      clock.now += HOUR;
      await scheduler.runDue();
      expect(ran).toEqual(['spilo/a/wal/15', 'spilo/b/wal/15', 'spilo/a/wal/15', 'spilo/b/wal/15']);
      expect((await data.listDrills('spilo/a/wal/15')).map((d) => Date.parse(d.startedAt))).toEqual([
        START + 24 * HOUR,
        START,
      ]);
      expect(await data.listDrills('spilo/scratch/x')).toEqual([]);
    } finally {
      await scheduler.stop();
    }
  });

  it('runs one drill at a time, however many checks are asked for', async () => {
    const data = store(['spilo/a/wal/15', 'spilo/b/wal/15']);
    let running = 0;
    let most = 0;
    const { ran, scheduler } = schedule({
      data,
      runDrill: async (id) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running -= 1;
        ran.push(id);
        return drillRecord(id, START);
      },
    });
    try {
      await Promise.all([scheduler.runDue(), scheduler.runDue(), scheduler.runDue()]);
      expect(most).toBe(1);
      // The checks queued behind the first find both clusters drilled already.
      expect(ran).toEqual(['spilo/a/wal/15', 'spilo/b/wal/15']);
    } finally {
      await scheduler.stop();
    }
  });

  it('follows the stored last drill time across a restart', async () => {
    const data = store(['spilo/a/wal/15']);
    await data.putDrill(drillRecord('spilo/a/wal/15', START - 20 * HOUR));
    const first = schedule({ data });
    await first.scheduler.runDue();
    await first.scheduler.stop();
    expect(first.ran).toEqual([]);

    const second = schedule({ data });
    second.clock.now = START + 4 * HOUR;
    await second.scheduler.runDue();
    await second.scheduler.stop();
    expect(second.ran).toEqual(['spilo/a/wal/15']);
  });

  it('stores a drill that could not run as failed, with the error as its reason', async () => {
    const data = store(['spilo/a/wal/15']);
    const { clock, scheduler } = schedule({
      data,
      runDrill: async () => {
        throw new Error('no space left on device');
      },
    });
    try {
      await scheduler.runDue();
      const [stored] = await data.listDrills('spilo/a/wal/15');
      expect(stored).toMatchObject({
        verdict: 'failed',
        startedAt: new Date(clock.now).toISOString(),
        reason: 'the drill could not run: no space left on device',
      } satisfies Partial<DrillRecord>);
      // It waits a whole period like any drill, instead of retrying at every check.
      clock.now += HOUR;
      await scheduler.runDue();
      expect(await data.listDrills('spilo/a/wal/15')).toHaveLength(1);
    } finally {
      await scheduler.stop();
    }
  });

  it('skips a cluster it cannot drill with one log line, and expects no drills of it', async () => {
    const data = store(['spilo/a/wal/17', 'spilo/b/wal/15']);
    const { ran, log, scheduler } = schedule({
      data,
      cannotDrill: async (id) => (id.endsWith('/17') ? 'no PostgreSQL 17 server binaries found' : null),
    });
    try {
      await scheduler.runDue();
      await scheduler.runDue();
      expect(ran).toEqual(['spilo/b/wal/15']);
      expect(log.filter((line) => line.includes('no restore drills for spilo/a/wal/17'))).toHaveLength(1);
      expect(scheduler.expectation('spilo/a/wal/17')).toBeUndefined();
      expect(scheduler.expectation('spilo/b/wal/15')).toEqual({ staleAfterMs: 72 * HOUR, since: START });
      expect(scheduler.expectation('spilo/scratch/x')).toBeUndefined();
    } finally {
      await scheduler.stop();
    }
  });
});
