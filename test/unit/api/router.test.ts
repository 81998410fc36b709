import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { refreshFleetRows } from '../../../shared/api/fleet-summary.js';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import { createApiRouter } from '../../../shared/api/router.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { putClusterState } from '../../../shared/store/cluster-states.js';
import { acknowledgementsKey, createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const NOW = START + 40 * 60_000;

function fixtureStates(): Map<string, ClusterState> {
  const objects = [
    ...generateArchive({
      clusterId: 'spilo/superman/wal/15',
      segmentSize: 16 * MIB,
      segments: 30,
      switches: [14],
      midSegmentSwitch: true,
      backups: [2, 20],
      holes: [25],
    }),
    ...generateArchive({
      clusterId: 'spilo/calm/wal/16',
      segmentSize: 16 * MIB,
      segments: 38,
      switches: [],
      backups: [1],
    }),
  ];
  return buildClusterStates(objects, contentLookup(objects), () => 16 * MIB);
}

/** The store behind the router: in memory, or the DynamoDB store on dynalite (the local DynamoDB-API server). */
let backend: 'memory' | 'dynalite' = 'memory';
let dynamoData: MonitorData | undefined;

function api() {
  const data = backend === 'memory' ? createMemoryMonitorData(fixtureStates()) : (dynamoData as MonitorData);
  const app = createApiRouter({
    data,
    now: () => NOW,
    callerOf: () => 'arn:aws:iam::123456789012:user/dba',
    bucket: 'wal-bucket',
  });
  return { app, data };
}

const superman = encodeURIComponent('spilo/superman/wal/15');
const gapId = '00000002000000000000001A-00000002000000000000001A';

describe.each(['memory', 'dynalite'] as const)('API router over the %s store', (store) => {
  let dynamo: LocalDynamo | undefined;
  beforeAll(async () => {
    backend = store;
    if (store === 'dynalite') {
      dynamo = await startDynalite('walwatch-router');
      for (const state of fixtureStates().values()) await putClusterState(dynamo.db, dynamo.table, state, 0);
      dynamoData = createDynamoMonitorData(dynamo.db, dynamo.table);
    }
  });
  afterAll(async () => {
    await dynamo?.stop();
  });
  beforeEach(async () => {
    backend = store;
    if (dynamo) {
      // Acknowledgements from an earlier test must not leak into the next one.
      await dynamo.db.send(
        new DeleteCommand({
          TableName: dynamo.table,
          Key: { pk: acknowledgementsKey('spilo/superman/wal/15') },
        }),
      );
    }
  });

  it('lists clusters worst first with their recoverable points', async () => {
    const { app, data } = api();
    await refreshFleetRows(data, await data.listClusterIds(), NOW);
    const response = await app.request('/clusters');
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      clusters: Array<{ id: string; status: string; gaps: number; latestRecoverable: { lsn: string } }>;
    };
    expect(body.clusters.map((c) => [c.id, c.status, c.gaps])).toEqual([
      ['spilo/superman/wal/15', 'critical', 1],
      ['spilo/calm/wal/16', 'ok', 0],
    ]);
    expect(body.clusters[0]?.latestRecoverable.lsn).toBe('0/1A000000');
  });

  it('serves the full report and its parts under a URL-encoded cluster id', async () => {
    const { app } = api();
    const full = (await (await app.request(`/clusters/${superman}`)).json()) as {
      cluster: { id: string; targetTimeline: number };
    };
    expect(full.cluster).toMatchObject({ id: 'spilo/superman/wal/15', targetTimeline: 2 });
    const point = (await (await app.request(`/clusters/${superman}/recoverable-point`)).json()) as Record<
      string,
      unknown
    >;
    expect(point).toMatchObject({
      latestRecoverable: { lsn: '0/1A000000' },
      earliestRecoverable: { lsn: '0/4000100' },
    });
    expect(
      ((await (await app.request(`/clusters/${superman}/gaps`)).json()) as { gaps: unknown[] }).gaps,
    ).toHaveLength(1);
    expect(
      ((await (await app.request(`/clusters/${superman}/backups`)).json()) as { backups: unknown[] }).backups,
    ).toHaveLength(2);
    expect(
      ((await (await app.request(`/clusters/${superman}/timelines`)).json()) as { timelines: unknown[] })
        .timelines,
    ).toHaveLength(2);
  });

  it('plans restores from the query target', async () => {
    const { app } = api();
    const latest = (await (await app.request(`/clusters/${superman}/restore-plan`)).json()) as Record<
      string,
      unknown
    >;
    expect(latest).toMatchObject({
      reachable: true,
      backup: 'base_000000020000000000000015',
      spiloEnv: { CLONE_WAL_S3_BUCKET: 'wal-bucket' },
    });
    const late = await app.request(
      `/clusters/${superman}/restore-plan?target=${encodeURIComponent('2026-12-01T00:00:00Z')}`,
    );
    expect(await late.json()).toMatchObject({ reachable: false });
    const bad = await app.request(`/clusters/${superman}/restore-plan?target=2026-12-01T00:00:00`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: 'bad-request', message: expect.stringContaining('time zone') },
    });
  });

  it('acknowledges a gap with the caller and a reason, which stops it counting as a problem', async () => {
    const { app, data } = api();
    const response = await app.request(`/clusters/${superman}/gaps/${gapId}/ack`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'segment lost in the 11/01 incident, new backup taken' }),
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(await data.getAcknowledgements('spilo/superman/wal/15')).toEqual({
      [gapId]: {
        reason: 'segment lost in the 11/01 incident, new backup taken',
        by: 'arn:aws:iam::123456789012:user/dba',
        at: new Date(NOW).toISOString(),
      },
    });
    const gaps = (await (await app.request(`/clusters/${superman}/gaps`)).json()) as {
      gaps: Array<{ status: string }>;
    };
    expect(gaps.gaps[0]?.status).toBe('acknowledged');
  });

  it.each([
    ['/clusters/nope', 'GET', undefined, 404],
    [`/clusters/${superman}/gaps/${gapId}/ack`, 'POST', '{"reason": ""}', 400],
    [`/clusters/${superman}/gaps/${gapId}/ack`, 'POST', 'not json', 400],
    [`/clusters/${superman}/gaps/${gapId}/ack`, 'POST', '{"reason": "x", "extra": 1}', 400],
    [`/clusters/${superman}/gaps/bad-id/ack`, 'POST', '{"reason": "x"}', 400],
    [
      `/clusters/${superman}/gaps/000000010000000000000001-000000010000000000000001/ack`,
      'POST',
      '{"reason": "x"}',
      404,
    ],
    ['/nowhere', 'GET', undefined, 404],
  ])('answers %s %s with a JSON error', async (path, method, body, status) => {
    const response = await api().app.request(path, { method, ...(body === undefined ? {} : { body }) });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({
      error: { code: expect.any(String), message: expect.any(String) },
    });
  });

  it('never answers 500 to arbitrary paths, queries and bodies', async () => {
    const { app } = api();
    const segment = fc.oneof(
      fc.string(),
      fc.constantFrom(superman, 'clusters', 'gaps', 'ack', 'restore-plan', gapId, '%', '%2F', '..'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.string(),
        fc.option(fc.string({ maxLength: 200 })),
        async (segments, method, query, body) => {
          const path = `/${segments.map((s) => encodeURIComponent(s)).join('/')}?target=${encodeURIComponent(query)}`;
          const response = await app.request(`/clusters${path.startsWith('/clusters') ? '' : ''}${path}`, {
            method,
            ...(body === null || method === 'GET' ? {} : { body }),
          });
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  });
});
