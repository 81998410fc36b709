/**
 * One sweep worker as its own process (the bench's stand-in for one concurrent invocation of
 * `functions/sweep-worker.ts`): takes shards from its parent over IPC, sweeps each with `sweepClusters`
 * against the DynamoDB endpoint it is given, and answers with the time, the requests by operation, the
 * EMF bytes it would have logged, its CPU seconds and its peak RSS.
 */
import { sweepClusters } from '../../shared/monitor/sweep-shards.js';
import { createDocumentClient } from '../../shared/store/client.js';
import { createDynamoMonitorData } from '../../shared/store/monitor-items.js';
import { BENCH_CREDENTIALS, BENCH_REGION, cpuSecondsOf, peakRssOf } from './dynamo-process.js';
import { RequestCounter, type RequestCounts } from './request-counter.js';

/** A shard to sweep. */
export interface ShardRequest {
  readonly id: number;
  readonly table: string;
  readonly at: number;
  readonly clusters: readonly string[];
  readonly clusterMetrics: boolean;
}

/** What sweeping it took. */
export interface ShardReport {
  readonly id: number;
  readonly ms: number;
  readonly analyzed: number;
  readonly sent: number;
  readonly counts: RequestCounts;
  readonly emitted: { cluster: number; fleet: number; bytes: number };
  readonly cpuSeconds: number;
  readonly peakRss: number;
}

const endpoint = process.env.WALWATCH_BENCH_DYNAMO_ENDPOINT;
if (!endpoint || !process.send) throw new Error('run by bench/support/sweep-workers.ts');
const db = createDocumentClient({ endpoint, region: BENCH_REGION, credentials: BENCH_CREDENTIALS });
const counter = new RequestCounter();
counter.attach(db);

process.on('message', async (request: ShardRequest | 'stop') => {
  if (request === 'stop') {
    // Ending the event loop (not process.exit) lets Node write the profiles.
    db.destroy();
    process.disconnect();
    return;
  }
  counter.reset();
  const emitted = { cluster: 0, fleet: 0, bytes: 0 };
  const started = performance.now();
  const result = await sweepClusters(
    {
      data: createDynamoMonitorData(db, request.table),
      now: () => request.at,
      publish: async () => undefined,
      emitMetrics: (cluster, values) => {
        if (cluster === null) emitted.fleet += 1;
        else emitted.cluster += 1;
        emitted.bytes += JSON.stringify(values).length + 400; // the EMF document's envelope
      },
    },
    request.clusters,
    { clusterMetrics: () => request.clusterMetrics },
  );
  const report: ShardReport = {
    id: request.id,
    ms: performance.now() - started,
    analyzed: result.analyzed,
    sent: result.sent.length,
    counts: counter.snapshot(),
    emitted,
    cpuSeconds: cpuSecondsOf('self'),
    peakRss: peakRssOf('self'),
  };
  process.send?.(report);
});
process.send({ ready: true });
