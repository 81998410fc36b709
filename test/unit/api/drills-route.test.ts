import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFleetRows } from '../../../shared/api/fleet-summary.js';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import { createApiRouter } from '../../../shared/api/router.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { putClusterState } from '../../../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';
import { drillRecord } from '../../support/drill-records.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { validatingApp } from '../../support/openapi-validator.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const NOW = START + 40 * 60_000;
const HOUR = 3_600_000;
const DRILLED = 'spilo/drilled/wal/15';
const QUIET = 'spilo/quiet/wal/16';

function states(): Map<string, ClusterState> {
  const objects = [DRILLED, QUIET].flatMap((clusterId) =>
    generateArchive({ clusterId, segmentSize: 16 * MIB, segments: 20, switches: [], backups: [1] }),
  );
  return buildClusterStates(objects, contentLookup(objects), () => 16 * MIB);
}

describe.each(['memory', 'dynalite'] as const)('drill routes over the %s store', (store) => {
  let dynamo: LocalDynamo | undefined;
  let data: MonitorData;
  const drills = [
    drillRecord(DRILLED, NOW - 2 * HOUR, 'mismatch'),
    drillRecord(DRILLED, NOW - 26 * HOUR),
    drillRecord(DRILLED, NOW - 50 * HOUR, 'failed'),
  ];
  beforeAll(async () => {
    if (store === 'dynalite') {
      dynamo = await startDynalite('walwatch-drill-routes');
      for (const state of states().values()) await putClusterState(dynamo.db, dynamo.table, state, 0);
      data = createDynamoMonitorData(dynamo.db, dynamo.table);
    } else {
      data = createMemoryMonitorData(states());
    }
    for (const drill of drills) await data.putDrill(drill);
  });
  afterAll(async () => {
    await dynamo?.stop();
  });
  const api = () =>
    validatingApp(
      createApiRouter({
        data,
        now: () => NOW,
        callerOf: () => 'local',
        drills: (id) => (id === QUIET ? { staleAfterMs: HOUR, since: NOW - 2 * HOUR } : undefined),
      }),
    );
  const get = async (path: string) => {
    const response = await api().request(path);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('GET /clusters/{id}/drills returns the history newest first', async () => {
    const { status, body } = await get(`/clusters/${encodeURIComponent(DRILLED)}/drills`);
    expect(status).toBe(200);
    expect(body).toEqual({ generatedAt: new Date(NOW).toISOString(), drills });
  });

  it('GET /clusters/{id}/drills?limit=1 returns the newest drill only', async () => {
    const { body } = await get(`/clusters/${encodeURIComponent(DRILLED)}/drills?limit=1`);
    expect(body.drills).toEqual([drills[0]]);
  });

  it('answers 400 for a bad limit and 404 for an unknown cluster', async () => {
    const bad = await get(`/clusters/${encodeURIComponent(DRILLED)}/drills?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'bad-request', message: 'limit must be 1 to 30' } });
    const unknown = await get(`/clusters/${encodeURIComponent('spilo/nobody/wal/15')}/drills`);
    expect(unknown.status).toBe(404);
  });

  it('an empty history is an empty list', async () => {
    const { status, body } = await get(`/clusters/${encodeURIComponent(QUIET)}/drills`);
    expect(status).toBe(200);
    expect(body.drills).toEqual([]);
  });

  it('GET /clusters/{id} carries lastDrill and the drill problem', async () => {
    const { body } = await get(`/clusters/${encodeURIComponent(DRILLED)}`);
    const cluster = body.cluster as Record<string, unknown>;
    expect(cluster.lastDrill).toEqual({
      startedAt: drills[0]?.startedAt,
      finishedAt: drills[0]?.finishedAt,
      target: 'latest',
      backup: drills[0]?.backup,
      verdict: 'mismatch',
      predicted: drills[0]?.predicted,
      reached: drills[0]?.reached,
      reason: drills[0]?.reason,
      lastVerifiedAt: drills[1]?.finishedAt,
    });
    expect(cluster.status).toBe('critical');
    expect((cluster.problems as Array<{ kind: string }>).map((p) => p.kind)).toContain('drill-mismatch');
  });

  it('GET /clusters shows each cluster’s last verdict and when a drill last verified it', async () => {
    // The fleet list reads the summary rows the sweeper (or the local monitor) writes.
    await refreshFleetRows(data, [DRILLED, QUIET], NOW);
    const { body } = await get('/clusters');
    const rows = body.clusters as Array<{ id: string; lastDrill: unknown; problems: number }>;
    expect(rows.find((row) => row.id === DRILLED)?.lastDrill).toEqual({
      finishedAt: drills[0]?.finishedAt,
      verdict: 'mismatch',
      lastVerifiedAt: drills[1]?.finishedAt,
    });
    const quiet = await get(`/clusters/${encodeURIComponent(QUIET)}`);
    expect(rows.find((row) => row.id === QUIET)?.lastDrill).toBeNull();
    // Expected to have drills, none for two hours: stale.
    const problems = (quiet.body.cluster as { problems: Array<{ kind: string }> }).problems;
    expect(problems.map((p) => p.kind)).toContain('drill-stale');
  });
});
