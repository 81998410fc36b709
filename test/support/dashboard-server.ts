/**
 * A server for the dashboard's browser tests: the built page plus the real API router over cluster states
 * built by the real core from generated WAL-G archives — a critical cluster (a failover, a lost gap that
 * cuts the latest recoverable point, an older gap, a backup missing WAL, one in progress), a cluster
 * with WAL but no backup at all, a warning cluster (its newest backup is 27 h old) and an ok one. The
 * critical cluster also has a segment the content scan found corrupt, with its stored summary; the ok cluster
 * has two restore drills. The clock and the archives can be moved on while
 * the page is open, for live updates.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { refreshFleetRows } from '../../shared/api/fleet-summary.js';
import { createMemoryMonitorData } from '../../shared/api/monitor-data.js';
import { createApiRouter } from '../../shared/api/router.js';
import type { DrillRecord } from '../../shared/core/drill.js';
import { countFleetRows, type FleetRow } from '../../shared/core/fleet-row.js';
import type { ClosedGapRecord } from '../../shared/core/gap-history.js';
import type { StoredSegmentSummary } from '../../shared/core/segment-summary.js';
import { buildClusterStates, type ClusterState } from '../../shared/core/state.js';
import { isoOf } from '../../shared/core/time.js';
import { buildDashboard } from '../../web/build.js';
import { type ArchiveSpec, contentLookup, generateArchive } from './archive-generator.js';
import { drillRecord } from './drill-records.js';

const SEGMENT_SIZE = 16 * 1024 * 1024;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The fixture's cluster ids, by the status they have. */
export const FIXTURE_CLUSTERS = {
  unrestorable: 'spilo/joker/wal/15',
  critical: 'spilo/superman/wal/15',
  warning: 'spilo/robin/5f1e9a42-7c3b-4d1e-9a0f-3b2c1d4e5f60/wal/14',
  ok: 'spilo/batman/wal/16',
} as const;

/** A running fixture server. */
export interface DashboardServer {
  readonly url: string;
  /** Archives `count` more segments on `clusterId`, one a minute, and moves the clock on by as much. */
  archiveMore(clusterId: string, count: number): void;
  close(): Promise<void>;
}

/** Archive shapes, their last segment stored shortly before `now`. */
function fixtureSpecs(now: number): ArchiveSpec[] {
  return [
    {
      clusterId: FIXTURE_CLUSTERS.critical,
      segmentSize: SEGMENT_SIZE,
      segments: 40,
      switches: [20],
      midSegmentSwitch: true,
      divergedTail: 2,
      backups: [2, 12, 25, 30, 35],
      backupLength: 3,
      deltas: [2],
      failed: [4],
      // 8 splits the recoverable history in two (warning); 32 cuts the latest recoverable point (critical).
      holes: [8, 32],
      startAt: now - 40 * MINUTE,
      intervalMs: MINUTE,
    },
    {
      clusterId: FIXTURE_CLUSTERS.unrestorable,
      segmentSize: SEGMENT_SIZE,
      segments: 12,
      switches: [],
      backups: [],
      startAt: now - 12 * MINUTE,
      intervalMs: MINUTE,
    },
    {
      clusterId: FIXTURE_CLUSTERS.warning,
      segmentSize: SEGMENT_SIZE,
      segments: 30,
      switches: [],
      backups: [0],
      backupLength: 3,
      startAt: now - 29 * HOUR - 10 * MINUTE,
      intervalMs: HOUR,
    },
    {
      clusterId: FIXTURE_CLUSTERS.ok,
      segmentSize: SEGMENT_SIZE,
      segments: 30,
      switches: [],
      backups: [1, 15],
      startAt: now - 30 * MINUTE,
      intervalMs: MINUTE,
    },
  ];
}

/** What the content scan would have stored for the critical cluster's segment 10, which fails its CRC. */
export const CORRUPT_SEGMENT: StoredSegmentSummary = {
  clusterId: FIXTURE_CLUSTERS.critical,
  timeline: 1,
  segno: 10,
  key: `${FIXTURE_CLUSTERS.critical}/wal_005/00000001000000000000000A.lz4`,
  etag: '"a1"',
  objectAt: Date.parse('2026-11-24T10:00:00Z'),
  readAt: Date.parse('2026-11-24T10:01:00Z'),
  summary: {
    fileSize: SEGMENT_SIZE,
    startLsn: '0/A000000',
    timeline: 1,
    segmentSize: SEGMENT_SIZE,
    systemIdentifier: '7507672962298572862',
    postgresVersion: 15,
    firstRecordLsn: '0/A000028',
    lastRecordLsn: '0/A3F1E90',
    endLsn: '0/A3F1EC8',
    recordCount: 4711,
    recordBytes: 4_100_000,
    commitCount: 120,
    abortCount: 0,
    firstCommitTime: '2026-11-24T09:59:01.000001Z',
    lastCommitTime: '2026-11-24T09:59:40.123456Z',
    lastCommitLsn: '0/A3F1D10',
    lastTransactionEnd: { kind: 'commit', lsn: '0/A3F1D10', time: '2026-11-24T09:59:40.123456Z' },
    restorePoints: [],
    end: 'invalid',
    endsWithSwitch: false,
    error: 'record at 0/A3F1EC8 fails its CRC-32C check',
    errorLsn: '0/A3F1EC8',
  },
  readError: null,
  defect: { kind: 'corrupt', message: 'record at 0/A3F1EC8 fails its CRC-32C check', stopLsn: '0/A3F1EC8' },
};

/** The critical cluster with its segment 10 found corrupt, as the content scan records it. */
function withCorruptSegment(states: Map<string, ClusterState>): Map<string, ClusterState> {
  const critical = states.get(FIXTURE_CLUSTERS.critical);
  if (critical) {
    const {
      clusterId: _id,
      timeline: _t,
      segno: _n,
      summary: _s,
      readError: _e,
      defect,
      ...object
    } = CORRUPT_SEGMENT;
    states.set(FIXTURE_CLUSTERS.critical, {
      ...critical,
      defects: {
        '1:10': {
          ...(defect as NonNullable<typeof defect>),
          key: object.key.slice(FIXTURE_CLUSTERS.critical.length + 1),
          etag: object.etag,
        },
      },
    });
  }
  return states;
}

function buildStates(specs: readonly ArchiveSpec[]): Map<string, ClusterState> {
  const objects = specs.flatMap((spec) => generateArchive(spec));
  return buildClusterStates(objects, contentLookup(objects), () => SEGMENT_SIZE);
}

/** The ok cluster's restore drills: verified 3 h ago, and a failed one the day before. */
export function fixtureDrills(now: number): DrillRecord[] {
  return [
    drillRecord(FIXTURE_CLUSTERS.ok, now - 3 * HOUR - MINUTE),
    drillRecord(FIXTURE_CLUSTERS.ok, now - 27 * HOUR - MINUTE, 'failed'),
  ];
}

/**
 * The critical cluster's closed gaps, as a sweeper records them: a segment missing for 3 h until it was
 * archived, and an acknowledged pair that retention took out of the checked range.
 */
export function fixtureClosedGaps(now: number): ClosedGapRecord[] {
  return [
    {
      timeline: 1,
      firstSegno: 4,
      lastSegno: 4,
      firstSeenAt: now - 5 * HOUR,
      closedAt: now - 2 * HOUR,
      outcome: 'filled',
      worstStatus: 'lost',
      severity: 'critical',
    },
    {
      timeline: 1,
      firstSegno: 1,
      lastSegno: 2,
      firstSeenAt: now - 30 * HOUR,
      closedAt: now - 26 * HOUR,
      outcome: 'out-of-range',
      worstStatus: 'acknowledged',
      severity: 'warning',
      acknowledgement: { reason: 'lost in the 2026 bucket migration', by: 'dba', at: isoOf(now - 29 * HOUR) },
    },
  ];
}

/** Starts the fixture server on 127.0.0.1 with a free port; `fleet` adds rows of clusters without a state. */
export async function startDashboardServer(
  options: { fleet?: readonly FleetRow[] } = {},
): Promise<DashboardServer> {
  const startedAt = Date.now();
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const specs = fixtureSpecs(startedAt);
  // The router reads this map on every request: replacing its entries is a live update.
  const states = withCorruptSegment(buildStates(specs));
  const page = await buildDashboard();

  const app = new Hono();
  // As API Gateway's CORS setting would: a statically hosted page on another origin may call the API.
  app.use('/clusters/*', cors());
  app.use('/clusters', cors());
  app.get('/', (c) => c.html(page.html));
  app.get('/dashboard.js', (c) => c.body(page.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/dashboard.css', (c) => c.body(page.css, 200, { 'content-type': 'text/css; charset=utf-8' }));
  const data = createMemoryMonitorData(
    states,
    new Map([[`${FIXTURE_CLUSTERS.critical}|00000001000000000000000A`, CORRUPT_SEGMENT]]),
  );
  for (const drill of fixtureDrills(startedAt)) await data.putDrill(drill);
  await data.putAlertState(
    FIXTURE_CLUSTERS.critical,
    { open: {}, outbox: {}, gaps: { open: [], closed: fixtureClosedGaps(startedAt) } },
    0,
  );
  for (const row of options.fleet ?? [])
    await data.putFleetRow({ row, changed: false, nextCheckAt: null }, 0);
  // As the local monitor does after each change: the fleet rows follow the states before each list.
  app.use('/clusters', async (_c, next) => {
    await refreshFleetRows(data, states.keys(), now());
    const rows = await data.getFleetRows([...(await data.listFleetRowIds())]);
    await data.putFleetCounts(
      countFleetRows([...rows.values()].flatMap((r) => (r.row ? [r.row] : []))),
      now(),
    );
    await next();
  });
  app.route(
    '/',
    createApiRouter({
      data,
      now,
      callerOf: () => 'test',
      bucket: 'wal-bucket',
      onError: (error) => console.error(error),
    }),
  );

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(started));
    started.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    archiveMore(clusterId, count) {
      const index = specs.findIndex((spec) => spec.clusterId === clusterId);
      const spec = specs[index];
      if (!spec) throw new Error(`no fixture cluster ${clusterId}`);
      specs[index] = { ...spec, segments: spec.segments + count };
      clockOffset += count * (spec.intervalMs ?? MINUTE);
      for (const [id, state] of withCorruptSegment(buildStates(specs))) states.set(id, state);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Polling pages keep connections alive; do not wait for them to go idle.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
