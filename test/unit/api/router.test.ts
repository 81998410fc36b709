import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { refreshFleetRows } from '../../../shared/api/fleet-summary.js';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import { createApiRouter, MAX_API_BODY_BYTES } from '../../../shared/api/router.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { putClusterState } from '../../../shared/store/cluster-states.js';
import { acknowledgementsKey, createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { validatingApp } from '../../support/openapi-validator.js';

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
  // Every answer a test receives is first held to the API's own OpenAPI document.
  const app = validatingApp(
    createApiRouter({
      data,
      now: () => NOW,
      callerOf: () => 'arn:aws:iam::123456789012:user/dba',
      bucket: 'wal-bucket',
    }),
  );
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

  it('answers an unchanged fleet page 304 to its ETag, and a bad fleet query 400, as the document says', async () => {
    const { app, data } = api();
    await refreshFleetRows(data, await data.listClusterIds(), NOW);
    const first = await app.request('/clusters?limit=1&status=critical,ok');
    expect(first.status).toBe(200);
    const tag = first.headers.get('etag') as string;
    expect(tag).toMatch(/^W\//);
    const again = await app.request('/clusters?limit=1&status=critical,ok', {
      headers: { 'if-none-match': tag },
    });
    expect(again.status).toBe(304);
    for (const query of ['limit=0', 'status=fine', 'sort=id', 'cursor=x'])
      expect((await app.request(`/clusters?${query}`)).status, query).toBe(400);
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

  it('lists the closed gaps the sweeper recorded, newest first, with the acknowledgement each closed with', async () => {
    const { app, data } = api();
    const hour = 3_600_000;
    const given = { reason: 'lost in the 11/01 incident', by: 'dba', at: '2026-11-01T00:20:00.000Z' };
    const stored = await data.getAlertState('spilo/superman/wal/15');
    const written = await data.putAlertState(
      'spilo/superman/wal/15',
      {
        open: {},
        outbox: {},
        decidedAt: NOW,
        gaps: {
          open: [],
          closed: [
            {
              timeline: 1,
              firstSegno: 4,
              lastSegno: 4,
              firstSeenAt: START,
              closedAt: START + 3 * hour,
              outcome: 'filled',
              worstStatus: 'lost',
              severity: 'critical',
            },
            {
              timeline: 2,
              firstSegno: 0x10,
              lastSegno: 0x11,
              firstSeenAt: START + 60_000,
              closedAt: START + 2 * hour,
              outcome: 'out-of-range',
              worstStatus: 'acknowledged',
              severity: 'warning',
              acknowledgement: given,
            },
          ],
        },
      },
      stored.ver,
    );
    expect(written).toBe(true);
    const body = (await (await app.request(`/clusters/${superman}/gaps`)).json()) as {
      gaps: unknown[];
      history: unknown[];
    };
    expect(body.gaps).toHaveLength(1);
    expect(body.history).toEqual([
      {
        id: '000000010000000000000004-000000010000000000000004',
        timeline: 1,
        firstSegment: '000000010000000000000004',
        lastSegment: '000000010000000000000004',
        count: 1,
        firstSeenAt: '2026-11-01T00:00:00.000Z',
        closedAt: '2026-11-01T03:00:00.000Z',
        status: 'filled',
        worstStatus: 'lost',
        severity: 'critical',
      },
      {
        id: '000000020000000000000010-000000020000000000000011',
        timeline: 2,
        firstSegment: '000000020000000000000010',
        lastSegment: '000000020000000000000011',
        count: 2,
        firstSeenAt: '2026-11-01T00:01:00.000Z',
        closedAt: '2026-11-01T02:00:00.000Z',
        status: 'out-of-range',
        worstStatus: 'acknowledged',
        severity: 'warning',
        acknowledgement: given,
      },
    ]);
  });

  it('answers an empty history for a cluster no sweep has tracked', async () => {
    const { app } = api();
    const body = (await (
      await app.request(`/clusters/${encodeURIComponent('spilo/calm/wal/16')}/gaps`)
    ).json()) as {
      history: unknown[];
    };
    expect(body.history).toEqual([]);
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
    const response = await api().app.request(path, {
      method,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
    });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({
      error: { code: expect.any(String), message: expect.any(String) },
    });
  });

  it('refuses an empty target and impossible dates instead of planning for another time', async () => {
    const { app } = api();
    for (const [query, message] of [
      ['target=', 'target is empty'],
      [`target=${encodeURIComponent('2026-02-30T20:00:00Z')}`, 'February 2026 has 28 days'],
      [`target=${encodeURIComponent('2026-11-01T24:00:00Z')}`, 'hours run from 00 to 23'],
    ] as const) {
      const response = await app.request(`/clusters/${superman}/restore-plan?${query}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        error: { code: 'bad-request', message: expect.stringContaining(message) },
      });
    }
  });

  it('keeps the first acknowledgement of a gap: the same reason again is a retry, another one a conflict', async () => {
    const { app, data } = api();
    const ack = (reason: string) =>
      app.request(`/clusters/${superman}/gaps/${gapId}/ack`, {
        method: 'POST',
        body: JSON.stringify({ reason }),
        headers: { 'content-type': 'application/json' },
      });
    expect((await ack('segment lost in the 11/01 incident')).status).toBe(200);
    const retry = await ack('segment lost in the 11/01 incident');
    expect(retry.status).toBe(200);
    const other = await ack('nothing to see here');
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({
      error: { code: 'conflict', message: expect.stringContaining('segment lost in the 11/01 incident') },
      acknowledgement: { reason: 'segment lost in the 11/01 incident' },
    });
    expect((await data.getAcknowledgements('spilo/superman/wal/15'))[gapId]?.reason).toBe(
      'segment lost in the 11/01 incident',
    );
  });

  it.each([
    ['text/plain', 'a cross-site form or fetch needs no preflight with it'],
    ['application/x-www-form-urlencoded', 'an HTML form sends it'],
    [undefined, 'no type at all'],
  ])('refuses a POST body of content-type %s (415): %s', async (type, _why) => {
    const { app, data } = api();
    const response = await app.request(`/clusters/${superman}/gaps/${gapId}/ack`, {
      method: 'POST',
      body: JSON.stringify({ reason: 'silence it' }),
      ...(type === undefined ? {} : { headers: { 'content-type': type } }),
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: 'unsupported-media-type' } });
    expect(await data.getAcknowledgements('spilo/superman/wal/15')).toEqual({});
  });

  it('refuses bodies beyond the cap with 413, declared or streamed', async () => {
    const { app, data } = api();
    const path = `/clusters/${superman}/gaps/${gapId}/ack`;
    const declared = await app.request(path, {
      method: 'POST',
      body: JSON.stringify({ reason: 'x'.repeat(MAX_API_BODY_BYTES) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(declared.status).toBe(413);
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(1024).fill(0x20));
      },
    });
    const streamed = await app.request(path, {
      method: 'POST',
      body: endless,
      duplex: 'half',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: { code: 'payload-too-large' } });
    // Refused at the cap: an endless body was read no further than the limit and a chunk or two of buffering.
    expect(pulled * 1024).toBeLessThan(MAX_API_BODY_BYTES + 8 * 1024);
    expect(await data.getAcknowledgements('spilo/superman/wal/15')).toEqual({});
  });

  it.each([
    ['DELETE', `/clusters/${superman}`, 'GET, HEAD'],
    ['PUT', '/clusters', 'GET, HEAD'],
    ['GET', `/clusters/${superman}/gaps/${gapId}/ack`, 'POST'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const response = await api().app.request(path, { method });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await response.json()).toMatchObject({ error: { code: 'method-not-allowed' } });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await api().app.request('/nowhere/at/all');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({
      error: { code: 'not-found', message: 'no route GET /nowhere/at/all' },
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
