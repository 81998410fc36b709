/**
 * Query API benchmark: a cluster of 1,000,000 stored segments (3 timelines, 200 backups, holes) in the local
 * DynamoDB-API server (dynalite), queried through the same router and store code as the Lambda.
 * Target: p99 handler time under 50 ms per route. Then a burst of 2,000 concurrent requests against a
 * `walwatch serve` child process (target: p99 under 100 ms per route during the burst): `support/api-burst.ts`.
 */
import { refreshFleetRows } from '../shared/api/fleet-summary.js';
import { createMemoryMonitorData } from '../shared/api/monitor-data.js';
import { createApiRouter } from '../shared/api/router.js';
import { buildClusterStates } from '../shared/core/state.js';
import { startEmbeddedStore } from '../shared/local/embedded-store.js';
import { encodeClusterState, putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';
import { iterateArchive, MILLION_SEGMENT_ARCHIVE } from '../test/support/archive-generator.js';
import { benchBurst } from './support/api-burst.js';

const TARGET_P99_MS = 50;
const REQUESTS = 200;

const SPEC = MILLION_SEGMENT_ARCHIVE;

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
