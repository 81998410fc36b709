/**
 * Query API benchmark: a cluster of 1,000,000 stored segments (3 timelines, 200 backups, holes) in the local
 * DynamoDB-API server (dynalite), queried through the same router and store code as the Lambda.
 * Target: p99 handler time under 50 ms per route. Then a burst of 2,000 concurrent requests against the
 * local monitor (target: p99 under 100 ms per route during the burst).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { refreshFleetRows } from '../shared/api/fleet-summary.js';
import { createMemoryMonitorData } from '../shared/api/monitor-data.js';
import { createApiRouter } from '../shared/api/router.js';
import { buildClusterStates } from '../shared/core/state.js';
import { startEmbeddedStore } from '../shared/local/embedded-store.js';
import { startLocalMonitor } from '../shared/local/local-monitor.js';
import { encodeClusterState, putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';
import {
  generateArchive,
  iterateArchive,
  MILLION_SEGMENT_ARCHIVE,
} from '../test/support/archive-generator.js';

const TARGET_P99_MS = 50;
const REQUESTS = 200;

const SPEC = MILLION_SEGMENT_ARCHIVE;
const MIB = 1024 * 1024;

export default async function benchApi(): Promise<void> {
  // `WALWATCH_BENCH_API=burst` runs the burst alone.
  if (process.env.WALWATCH_BENCH_API === 'burst') return benchBurst();
  const documents = new Map<string, { text: string }>();
  for (const object of iterateArchive(SPEC))
    if (object.content !== undefined) documents.set(object.key, { text: object.content });
  const [state] = buildClusterStates(
    iterateArchive(SPEC),
    (key) => documents.get(key),
    () => SPEC.segmentSize,
  ).values();
  if (!state) throw new Error('no cluster');
  const store = await startEmbeddedStore();
  try {
    await putClusterState(store.db, store.table, state, 0);
    process.stdout.write(
      `state item: ${encodeClusterState(state).byteLength} bytes gzip for 1,000,000 segments\n`,
    );
    const dynamo = createDynamoMonitorData(store.db, store.table);
    const now = Date.parse('2026-11-13T12:00:00Z');
    const id = encodeURIComponent(SPEC.clusterId);
    const routes = [
      `/clusters`,
      `/clusters/${id}`,
      `/clusters/${id}/recoverable-point`,
      `/clusters/${id}/gaps`,
      `/clusters/${id}/restore-plan?target=${encodeURIComponent('2026-11-10T00:00:00Z')}`,
    ];
    await refreshFleetRows(dynamo, [SPEC.clusterId], Date.parse('2026-11-13T12:00:00Z'));
    for (const [label, data] of [
      ['dynalite', dynamo],
      ['in memory (analysis only)', createMemoryMonitorData(new Map([[SPEC.clusterId, state]]))],
    ] as const) {
      const app = createApiRouter({ data, now: () => now, callerOf: () => 'bench' });
      for (const route of routes) {
        for (let i = 0; i < 10; i++) await (await app.request(route)).arrayBuffer(); // warm up
        const times: number[] = [];
        for (let i = 0; i < REQUESTS; i++) {
          const started = performance.now();
          const response = await app.request(route);
          await response.arrayBuffer();
          times.push(performance.now() - started);
          if (response.status !== 200) throw new Error(`${route} answered ${response.status}`);
        }
        times.sort((a, b) => a - b);
        const p50 = times[Math.floor(REQUESTS * 0.5)] as number;
        const p99 = times[Math.floor(REQUESTS * 0.99)] as number;
        process.stdout.write(
          `${label.padEnd(26)} ${route.replace(id, '{id}').padEnd(44)} p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
            `(target ${TARGET_P99_MS} ms, ratio ${(p99 / TARGET_P99_MS).toFixed(2)})\n`,
        );
      }
    }
  } finally {
    await store.stop();
  }
  await benchBurst();
}

/** Requests in one burst against `walwatch serve`, all sent at once. */
const BURST = 2_000;
const BURST_TARGET_P99_MS = 100;

/**
 * A burst of 2,000 concurrent requests against the local monitor (health, the fleet page, one cluster's
 * report and gaps) while its sweeper and watcher run: p99 per route.
 */
async function benchBurst(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'walwatch-burst-'));
  const archive = join(root, 'archive');
  const clusters = Array.from({ length: 20 }, (_, n) => `spilo/burst-${n}/wal/16`);
  for (const clusterId of clusters) {
    for (const object of generateArchive({
      clusterId,
      segmentSize: 16 * MIB,
      segments: 30,
      switches: [],
      backups: [1],
    })) {
      const path = join(archive, ...object.key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, object.content ?? 'x');
    }
  }
  const monitor = await startLocalMonitor({
    dataDir: join(root, 'data'),
    archiveDir: archive,
    host: '127.0.0.1',
    port: 0,
    segmentSize: 16 * MIB,
    log: () => undefined,
  });
  try {
    await monitor.syncNow();
    await monitor.sweepNow();
    const id = encodeURIComponent(clusters[3] as string);
    const routes = ['/healthz', '/clusters', `/clusters/${id}`, `/clusters/${id}/gaps`];
    const times = new Map<string, number[]>(routes.map((route) => [route, []]));
    const started = performance.now();
    await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const route = routes[i % routes.length] as string;
        const sent = performance.now();
        const response = await fetch(`${monitor.url}${route}`);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${route} answered ${response.status} in the burst`);
        times.get(route)?.push(performance.now() - sent);
      }),
    );
    const total = performance.now() - started;
    process.stdout.write(
      `burst of ${BURST} concurrent requests against walwatch serve: ${total.toFixed(0)} ms in all\n`,
    );
    for (const [route, list] of times) {
      list.sort((a, b) => a - b);
      const p99 = list[Math.floor(list.length * 0.99)] as number;
      process.stdout.write(
        `  ${route.replace(id, '{id}').padEnd(24)} p50 ${(list[Math.floor(list.length / 2)] as number).toFixed(1)} ms, ` +
          `p99 ${p99.toFixed(1)} ms (target ${BURST_TARGET_P99_MS} ms, ratio ${(p99 / BURST_TARGET_P99_MS).toFixed(2)})\n`,
      );
    }
  } finally {
    await monitor.stop();
    await rm(root, { recursive: true, force: true });
  }
}
