/**
 * A sharded sweep over dynalite: shards of one sweep run concurrently, shards are delivered more than once
 * (SQS is at-least-once), and fast-check's scheduler interleaves every store read, write and publish in any
 * order. Each alert transition's notification must go out exactly once: the same notifications, by id, as
 * one unsharded sweep at the same times over an in-memory store.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../shared/api/monitor-data.js';
import { buildClusterStates, type ClusterState } from '../../shared/core/state.js';
import { planShards, sweepClusters } from '../../shared/monitor/sweep-shards.js';
import { getClusterState, putClusterState } from '../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';

const MIB = 1024 * 1024;
const MINUTE = 60_000;
const T1 = Date.parse('2026-11-20T12:00:00Z');
const T2 = T1 + 5 * MINUTE;
const T3 = T2 + 2 * MINUTE;
const CLAIM_TIMEOUT_MS = MINUTE;

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

/** A cluster whose last segment was archived `ageAtT1` before T1: ok, about to go stale, or stale. */
function clusterState(id: string, ageAtT1: number, lastAt = T1 - ageAtT1): ClusterState {
  const segments = 10;
  const objects = generateArchive({
    clusterId: id,
    segmentSize: 16 * MIB,
    segments,
    switches: [],
    backups: [1],
    startAt: lastAt - (segments - 1) * MINUTE,
    intervalMs: MINUTE,
  });
  const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
  return state as ClusterState;
}

interface Fleet {
  readonly ages: readonly number[];
  /** Clusters that archive again just before T2 (their stale alert resolves). */
  readonly refreshed: readonly boolean[];
}

const fleetArbitrary = fc.integer({ min: 2, max: 4 }).chain((size) =>
  fc.record({
    ages: fc.array(fc.constantFrom(30 * MINUTE, 58 * MINUTE, 90 * MINUTE), {
      minLength: size,
      maxLength: size,
    }),
    refreshed: fc.array(fc.boolean(), { minLength: size, maxLength: size }),
  }),
);

/** The states of the fleet before T1 and before T2. */
function statesOf(
  prefix: string,
  fleet: Fleet,
): { before: Map<string, ClusterState>; after: Map<string, ClusterState> } {
  const before = new Map<string, ClusterState>();
  const after = new Map<string, ClusterState>();
  fleet.ages.forEach((age, index) => {
    const id = `${prefix}/c${index}/wal/15`;
    before.set(id, clusterState(id, age));
    after.set(id, fleet.refreshed[index] ? clusterState(id, age, T2 - MINUTE) : clusterState(id, age));
  });
  return { before, after };
}

/** The notification ids one unsharded sweep per time publishes, in memory, nothing failing. */
async function referenceIds(fleet: Fleet): Promise<string[]> {
  const { before, after } = statesOf('ref', fleet);
  const states = new Map(before);
  const data = createMemoryMonitorData(states);
  const ids: string[] = [];
  const run = (now: number) =>
    sweepClusters(
      {
        data,
        now: () => now,
        claimTimeoutMs: CLAIM_TIMEOUT_MS,
        emitMetrics: () => undefined,
        publish: async (n) => {
          ids.push(n.id.replace(/^ref\//, ''));
        },
      },
      [...states.keys()],
    );
  await run(T1);
  for (const [id, state] of after) {
    states.set(id, state);
    // As every state write does in the table: the sweeper re-analyses the cluster.
    await data.markFleetRowChanged(id);
  }
  await run(T2);
  await run(T3);
  return ids.sort();
}

describe('sweepClusters in shards', () => {
  it('sends each transition exactly once whatever the interleaving, shard split and duplicate deliveries', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fleetArbitrary,
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.scheduler(),
        async (fleet, shardSize, copies, failures, scheduler) => {
          run += 1;
          const table = await dynamo.createTable(`shards-${run}`);
          const prefix = `p${run}`;
          const { before, after } = statesOf(prefix, fleet);
          for (const state of before.values()) await putClusterState(dynamo.db, table, state, 0);
          const store = createDynamoMonitorData(dynamo.db, table);
          const data: MonitorData = {
            ...store,
            getClusterState: scheduler.scheduleFunction((id: string) => store.getClusterState(id)),
            getAlertState: scheduler.scheduleFunction((id: string) => store.getAlertState(id)),
            putAlertState: scheduler.scheduleFunction((id, state, ver) =>
              store.putAlertState(id, state, ver),
            ),
          };
          const published: string[] = [];
          let publishCalls = 0;
          const record = (n: { id: string }) => void published.push(n.id.slice(prefix.length + 1));
          // The scheduler decides when a publish returns; the n-th publish of the first sweeps fails if told.
          const publish = async (n: { id: string }) => {
            const call = publishCalls++;
            await scheduler.schedule(Promise.resolve(), 'publish');
            if (failures[call]) throw new Error('SNS unavailable');
            record(n);
          };
          /** One sweep at `now`: every shard delivered 1–3 times, all deliveries at once. */
          const sweepAt = async (now: number, allowFailures: boolean) => {
            const shards = planShards([...before.keys()], now, shardSize);
            const deliveries = shards.flatMap((shard, index) =>
              Array.from({ length: copies[index % copies.length] as number }, () => shard),
            );
            const all = Promise.all(
              deliveries.map((shard) =>
                sweepClusters(
                  {
                    data,
                    now: () => now,
                    claimTimeoutMs: CLAIM_TIMEOUT_MS,
                    emitMetrics: () => undefined,
                    publish: allowFailures
                      ? publish
                      : async (n) => void published.push(n.id.replace(new RegExp(`^${prefix}/`), '')),
                  },
                  shard.clusters,
                  { concurrency: 2 },
                ),
              ),
            );
            await scheduler.waitFor(all);
          };
          await sweepAt(T1, true);
          for (const state of after.values()) {
            const stored = await getClusterState(dynamo.db, table, state.id);
            await putClusterState(dynamo.db, table, state, stored?.ver ?? 0);
          }
          await sweepAt(T2, true);
          await sweepAt(T3, false);
          expect(published.sort()).toEqual(await referenceIds(fleet));
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);

  it('emits per-status counts and fleet maxima for its shard', async () => {
    const { before } = statesOf('counts', { ages: [30 * MINUTE, 90 * MINUTE, 90 * MINUTE], refreshed: [] });
    const emitted: Array<{ cluster: string | null; values: Record<string, number | undefined> }> = [];
    const result = await sweepClusters(
      {
        data: createMemoryMonitorData(before),
        now: () => T1,
        emitMetrics: (cluster, values) => emitted.push({ cluster, values: { ...values } }),
        publish: async () => undefined,
      },
      [...before.keys(), 'counts/gone/wal/15'],
      { clusterMetrics: (id) => id.includes('/c0/') },
    );
    expect(result.counts).toEqual({ critical: 2, warning: 0, ok: 1, total: 3 });
    expect(emitted.map((e) => e.cluster)).toEqual(['counts/c0/wal/15', null]);
    expect(emitted[1]?.values).toMatchObject({
      ClustersCritical: 2,
      ClustersWarning: 0,
      ClustersOk: 1,
      CriticalProblems: 1,
    });
    expect(emitted[1]?.values.ArchiveAgeSeconds).toBe(90 * 60);
  });
});
