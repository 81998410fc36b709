import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorData } from '../../shared/api/monitor-data.js';
import { createApiRouter } from '../../shared/api/router.js';
import { analyzeCluster } from '../../shared/core/analyze.js';
import { fleetRowAges, summarizeFleetRow } from '../../shared/core/fleet-row.js';
import { buildClusterStates, type ClusterState } from '../../shared/core/state.js';
import { sweep } from '../../shared/monitor/sweep.js';
import { getClusterState, putClusterState } from '../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../shared/store/monitor-items.js';
import { clusterBackupsKey, clusterStateKey } from '../../shared/store/table.js';
import { contentLookup, generateArchive } from '../support/archive-generator.js';
import { drillRecord } from '../support/drill-records.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
const GAPPY = 'spilo/gappy/wal/16';
const STEADY = 'spilo/steady/wal/16';
const DRILLED = 'spilo/drilled/wal/16';

/** A cluster of `segments` segments a minute apart from START, one backup, and the given holes. */
function stateOf(clusterId: string, segments: number, holes: number[] = []): ClusterState {
  const objects = generateArchive({
    clusterId,
    segmentSize: 16 * MIB,
    segments,
    switches: [],
    backups: [1],
    holes,
  });
  return buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).get(clusterId) as ClusterState;
}

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite('walwatch-fleet-sweep');
});
afterAll(async () => {
  await dynamo.stop();
});

describe('sweep over the fleet summary', () => {
  /** State reads (`c#` items) the data layer made, to tell analysed clusters from skipped ones. */
  const stateReads: string[] = [];
  /** Requests by operation, to tell which reads an analysis cost. */
  const operations: string[] = [];
  const sent: string[] = [];
  const db = () => {
    const client = dynamo.client();
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as {
          Key?: { pk?: string };
          RequestItems?: Record<string, { Keys?: { pk?: string }[] }>;
        };
        const keys = [
          input.Key?.pk,
          ...Object.values(input.RequestItems ?? {}).flatMap((request) =>
            (request.Keys ?? []).map((key) => key.pk),
          ),
        ];
        for (const pk of keys) if (pk?.startsWith('c#')) stateReads.push(pk.slice(2));
        return next(args);
      },
      { step: 'initialize', name: 'countStateReads' },
    );
    client.middlewareStack.add(
      (next, context) => async (args) => {
        operations.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countOperations' },
    );
    return client;
  };
  let data: MonitorData;
  beforeAll(() => {
    data = createDynamoMonitorData(db(), dynamo.table);
  });
  const sweepAt = async (now: number) => {
    stateReads.length = 0;
    operations.length = 0;
    return sweep({
      data,
      now: () => now,
      concurrency: 4,
      publish: async (notification) => {
        sent.push(notification.subject);
      },
      emitMetrics: () => undefined,
    });
  };
  /** Every stored row, aged to `now`, equals a fresh analysis at `now` (the analysis time aside). */
  const expectRowsRight = async (now: number) => {
    for (const id of await data.listClusterIds()) {
      const state = await data.getClusterState(id);
      const fresh = fleetRowAges(summarizeFleetRow(analyzeCluster(state as ClusterState, { now }), now), now);
      const stored = (await data.getFleetRows([id])).get(id)?.row;
      expect({ ...fleetRowAges(stored ?? fresh, now), analyzedAt: '' }).toEqual({ ...fresh, analyzedAt: '' });
    }
  };

  it('analyses new clusters, then only those whose state changed or whose threshold crossing came', async () => {
    // Segment 8 of the gappy cluster is missing; segment 9 arrived at START + 8 min, so the gap is pending
    // until START + 13 min.
    await putClusterState(dynamo.db, dynamo.table, stateOf(GAPPY, 10, [7]), 0);
    await putClusterState(dynamo.db, dynamo.table, stateOf(STEADY, 10), 0);

    const first = await sweepAt(START + 10 * MINUTE);
    expect(first).toMatchObject({ clusters: 2, analyzed: 2, counts: { critical: 0, ok: 2, total: 2 } });
    expect(new Set(stateReads)).toEqual(new Set([GAPPY, STEADY]));
    const stored = await data.getFleetRows([GAPPY, STEADY]);
    expect(stored.get(GAPPY)).toMatchObject({ changed: false, nextCheckAt: START + 13 * MINUTE });
    // Its archive turns stale an hour after its last segment: later than the 15 minutes of `maxSkipMs`.
    expect(stored.get(STEADY)).toMatchObject({ changed: false, nextCheckAt: START + 25 * MINUTE });
    await expectRowsRight(START + 10 * MINUTE);

    // Nothing is due a minute later: no state is read, and the rows (aged) are still right.
    const idle = await sweepAt(START + 11 * MINUTE);
    expect(idle).toMatchObject({ clusters: 2, analyzed: 0 });
    expect(stateReads).toEqual([]);
    await expectRowsRight(START + 11 * MINUTE);
    expect(sent).toEqual([]);

    // The gap's grace ends at START + 13 min: that sweep analyses the gappy cluster and alerts.
    const grace = await sweepAt(START + 13 * MINUTE);
    expect(grace).toMatchObject({ analyzed: 1, counts: { critical: 1, ok: 1 } });
    expect(stateReads).toEqual([GAPPY]);
    expect(sent).toEqual([`[walwatch] CRITICAL ${GAPPY}: wal-gap 000000010000000000000008`]);
    await expectRowsRight(START + 13 * MINUTE);

    // A state write marks its row: the next sweep analyses that cluster only.
    const previous = await getClusterState(dynamo.db, dynamo.table, STEADY);
    await putClusterState(dynamo.db, dynamo.table, stateOf(STEADY, 14), previous?.ver ?? 0);
    expect((await data.getFleetRows([STEADY])).get(STEADY)?.changed).toBe(true);
    const changed = await sweepAt(START + 14 * MINUTE);
    expect(changed).toMatchObject({ analyzed: 1 });
    expect(stateReads).toEqual([STEADY]);
    await expectRowsRight(START + 14 * MINUTE);
  });

  it('drops the row of a cluster whose state is gone, from the list and the counts', async () => {
    for (const pk of [clusterStateKey(GAPPY), clusterBackupsKey(GAPPY)])
      await dynamo.db.send(new DeleteCommand({ TableName: dynamo.table, Key: { pk } }));
    const result = await sweepAt(START + 15 * MINUTE);
    expect(result).toMatchObject({ clusters: 1, removed: 1, counts: { critical: 0, ok: 1, total: 1 } });
    expect(await data.listFleetRowIds()).toEqual([STEADY]);
    const app = createApiRouter({ data, now: () => START + 15 * MINUTE, callerOf: () => 'test' });
    const page = (await (await app.request('/clusters')).json()) as {
      clusters: { id: string }[];
      counts: { total: number };
    };
    expect(page.clusters.map((c) => c.id)).toEqual([STEADY]);
    expect(page.counts.total).toBe(1);
  });

  it('reads a drill history only for a cluster with drills, and shows its drill in the row', async () => {
    await putClusterState(dynamo.db, dynamo.table, stateOf(DRILLED, 10), 0);
    const without = await sweepAt(START + 16 * MINUTE);
    expect(without).toMatchObject({ analyzed: expect.any(Number) });
    expect(operations.filter((name) => name === 'QueryCommand')).toHaveLength(2); // cluster ids, row ids
    await data.putDrill(drillRecord(DRILLED, START + 16 * MINUTE));
    const drilled = await sweepAt(START + 18 * MINUTE);
    expect(drilled).toMatchObject({ analyzed: expect.any(Number) });
    expect(operations.filter((name) => name === 'QueryCommand')).toHaveLength(3);
    const row = (await data.getFleetRows([DRILLED])).get(DRILLED);
    expect(row).toMatchObject({ drilled: true, changed: false });
    expect(row?.row?.lastDrill).toMatchObject({ verdict: 'verified' });
    // The flag survives the row writes: a later analysis still reads the history.
    await putClusterState(
      dynamo.db,
      dynamo.table,
      stateOf(DRILLED, 11),
      (await getClusterState(dynamo.db, dynamo.table, DRILLED))?.ver ?? 0,
    );
    await sweepAt(START + 19 * MINUTE);
    expect((await data.getFleetRows([DRILLED])).get(DRILLED)?.row?.lastDrill).toMatchObject({
      verdict: 'verified',
    });
  });

  it('re-analyses an unmarked cluster after at most maxSkipMs', async () => {
    const row = (await data.getFleetRows([STEADY])).get(STEADY);
    expect(row?.nextCheckAt).toBeLessThanOrEqual(START + 14 * MINUTE + 15 * MINUTE);
  });
});
