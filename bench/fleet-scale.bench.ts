/**
 * Fleet scale-out benchmark (`npm run bench fleet`): sweeps of 10, 100, 1,000 and 10,000 generated clusters
 * against dynalite, sharded as the sweeper fans them out (shards of 250, ten sweep workers at a time,
 * in-process), with every DynamoDB request counted by operation; then a full reconcile from an S3 Inventory
 * report vs from a listing of the same objects on moto. Prints the counts the README's cost table is
 * computed from, and the monthly cost per cluster at us-east-1 list prices.
 * Targets: a full sweep of 10,000 clusters ≤ 45 s wall time, peak RSS ≤ 512 MB (sweeper and dynalite share
 * this process, so the number is an upper bound), ≤ $0.05 per cluster per month at 10,000.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';
import { AUTO_CLUSTER_METRICS_MAX } from '../shared/config/cluster-metrics.js';
import { DEFAULT_FAN_OUT_ABOVE, DEFAULT_SHARD_SIZE } from '../shared/config/sweep-config.js';
import { buildClusterStates, type ClusterState } from '../shared/core/state.js';
import { findNewestManifest } from '../shared/events/inventory-manifest.js';
import { type ReconcileDependencies, reconcileArchive } from '../shared/events/reconcile-archive.js';
import { inventoryFileMessages, reconcileInventoryFile } from '../shared/events/reconcile-inventory.js';
import { readArchiveDocument } from '../shared/events/s3-objects.js';
import { startEmbeddedStore } from '../shared/local/embedded-store.js';
import { planShards, sweepClusters } from '../shared/monitor/sweep-shards.js';
import { createDocumentClient } from '../shared/store/client.js';
import { putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../test/support/archive-generator.js';
import { writeInventoryReport } from '../test/support/inventory-report.js';
import { motoAvailable, startMoto } from '../test/support/moto.js';

const MIB = 1024 * 1024;
const MINUTE = 60_000;
const MONTH_MINUTES = 43_200;
const SIZES = [10, 100, 1000, 10_000];
const WORKERS = 10;
/** How often a cluster's state changes (new WAL, a backup): Spilo's heartbeat and `archive_timeout` bound it. */
const CHANGE_EVERY_MINUTES = 5;

/** us-east-1 list prices (2026). */
const PRICE = {
  dynamoReadUnit: 0.125 / 1e6,
  dynamoWriteUnit: 0.625 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000133334, // arm64
  sqsRequest: 0.4 / 1e6,
  customMetricMonth: 0.3,
  logsIngestGb: 0.5,
  s3Get: 0.0004 / 1000,
  s3List: 0.005 / 1000,
  inventoryPerMillionObjects: 0.0025,
};

/** Counts DynamoDB requests and the read/write units they cost (items ≤ 4 KB read, ≤ 1 KB written). */
class RequestCounter {
  readonly byOperation = new Map<string, number>();
  readUnits = 0;
  writeUnits = 0;

  attach(db: DynamoDBDocumentClient): void {
    db.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        this.byOperation.set(name, (this.byOperation.get(name) ?? 0) + 1);
        const input = args.input as Record<string, unknown>;
        const result = await next(args);
        const output = result.output as Record<string, unknown>;
        if (name === 'GetItem') this.readUnits += input.ConsistentRead ? 1 : 0.5;
        else if (name === 'BatchGetItem') {
          const items = Object.values((output.Responses ?? {}) as Record<string, unknown[]>).flat().length;
          this.readUnits += Math.max(1, items) * 0.5;
        } else if (name === 'Query')
          this.readUnits += Math.max(1, Math.ceil(Number(output.ScannedCount ?? 1) / 40)) * 0.5;
        else if (['PutItem', 'UpdateItem', 'DeleteItem'].includes(name)) this.writeUnits += 1;
        return result;
      },
      { step: 'initialize', name: 'benchCounter' },
    );
  }

  total(): number {
    return [...this.byOperation.values()].reduce((a, b) => a + b, 0);
  }

  reset(): void {
    this.byOperation.clear();
    this.readUnits = 0;
    this.writeUnits = 0;
  }
}

/** One template state, cloned per cluster id: 12 segments, a backup, archiving a minute before `now`. */
function templateState(now: number): ClusterState {
  const objects = generateArchive({
    clusterId: 'fleet/template/wal/15',
    segmentSize: 16 * MIB,
    segments: 12,
    switches: [],
    backups: [1],
    startAt: now - 12 * MINUTE,
    intervalMs: MINUTE,
  });
  const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
  return state as ClusterState;
}

export default async function benchFleetScale(): Promise<void> {
  const store = await startEmbeddedStore();
  const counter = new RequestCounter();
  const db = createDocumentClient({
    endpoint: store.endpoint,
    region: 'local',
    credentials: { accessKeyId: 'walwatch-local', secretAccessKey: 'walwatch-local' },
  });
  counter.attach(db);
  const now = Date.parse('2026-11-20T12:00:00Z');
  const template = templateState(now);
  const rows: string[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  try {
    for (const size of SIZES) {
      const table = `fleet-${size}`;
      const { CreateTableCommand, DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
      const { describeTable } = await import('../shared/store/table.js');
      const raw = new DynamoDBClient({
        endpoint: store.endpoint,
        region: 'local',
        credentials: { accessKeyId: 'walwatch-local', secretAccessKey: 'walwatch-local' },
      });
      await raw.send(new CreateTableCommand(describeTable(table)));
      raw.destroy();
      const ids = Array.from({ length: size }, (_, i) => `fleet/c${String(i).padStart(5, '0')}/wal/15`);
      const seeded = Date.now();
      await pMap(
        ids,
        async (id) => {
          await putClusterState(store.db, table, { ...structuredClone(template), id }, 0);
        },
        { concurrency: 32 },
      );
      const seedSeconds = (Date.now() - seeded) / 1000;
      const data = createDynamoMonitorData(db, table);
      const emitted = { cluster: 0, fleet: 0, bytes: 0 };
      const sweepOnce = async (at: number) => {
        const deps = {
          data,
          now: () => at,
          publish: async () => undefined,
          emitMetrics: (cluster: string | null, values: object) => {
            if (cluster === null) emitted.fleet += 1;
            else emitted.cluster += 1;
            emitted.bytes += JSON.stringify(values).length + 400; // EMF document envelope
          },
        };
        const fanOut = size > DEFAULT_FAN_OUT_ABOVE;
        const started = performance.now();
        const shardTimes: number[] = [];
        if (fanOut) {
          const shards = planShards(await data.listClusterIds(), at, DEFAULT_SHARD_SIZE);
          await pMap(
            shards,
            async (shard) => {
              const t = performance.now();
              await sweepClusters(deps, shard.clusters, {
                clusterMetrics: () => size <= AUTO_CLUSTER_METRICS_MAX,
              });
              shardTimes.push(performance.now() - t);
            },
            { concurrency: WORKERS },
          );
          return {
            ms: performance.now() - started,
            invocations: 1 + shards.length,
            shardTimes,
            shards: shards.length,
          };
        }
        await sweepClusters(deps, await data.listClusterIds(), {
          clusterMetrics: () => size <= AUTO_CLUSTER_METRICS_MAX,
        });
        const ms = performance.now() - started;
        return { ms, invocations: 1, shardTimes: [ms], shards: 0 };
      };
      counter.reset();
      const first = await sweepOnce(now);
      const firstRequests = counter.total();
      const full = { read: counter.readUnits, write: counter.writeUnits, bytes: emitted.bytes };
      // Steady state: a minute later nothing changed; a cluster is re-analysed when due.
      counter.reset();
      emitted.cluster = 0;
      emitted.fleet = 0;
      emitted.bytes = 0;
      const steady = await sweepOnce(now + MINUTE);
      const requests = counter.total();
      const perCluster = requests / size;
      const ops = [...counter.byOperation].map(([name, n]) => `${name} ${n}`).join(', ');
      process.stdout.write(
        `${size} clusters (seeded in ${seedSeconds.toFixed(1)} s): first sweep ${(first.ms / 1000).toFixed(1)} s, ${firstRequests} requests (${(firstRequests / size).toFixed(2)}/cluster); steady sweep ${(steady.ms / 1000).toFixed(2)} s, ${requests} requests = ${perCluster.toFixed(2)} per cluster per minute [${ops}], ${counter.readUnits.toFixed(0)} RRU, ${counter.writeUnits} WRU, ${steady.invocations} invocation(s), ${steady.shards} shard(s), EMF documents ${emitted.fleet} fleet + ${emitted.cluster} cluster\n`,
      );
      // A typical minute: every cluster's state changes every CHANGE_EVERY minutes (WAL arrives), so that
      // share of the fleet is analysed as in the full sweep, the rest skipped as in the steady one.
      const share = 1 / CHANGE_EVERY_MINUTES;
      const readUnits = counter.readUnits + share * (full.read - counter.readUnits);
      const writeUnits = counter.writeUnits + share * (full.write - counter.writeUnits);
      const shardSeconds = (times: number[]) => times.reduce((a, b) => a + b, 0) / 1000;
      const lambdaGbSeconds =
        0.5 *
        (shardSeconds(steady.shardTimes) +
          share * (shardSeconds(first.shardTimes) - shardSeconds(steady.shardTimes)));
      process.stdout.write(
        `  full sweep ${full.read.toFixed(0)} RRU ${full.write} WRU; typical minute (a change every ${CHANGE_EVERY_MINUTES} min) ${(readUnits / size).toFixed(2)} RRU + ${(writeUnits / size).toFixed(2)} WRU per cluster, ${lambdaGbSeconds.toFixed(2)} GB-s of Lambda\n`,
      );
      const sqsRequests = steady.shards > 0 ? Math.ceil(steady.shards / 10) + 2 * steady.shards : 0;
      const customMetrics = 10 + (size <= AUTO_CLUSTER_METRICS_MAX ? 5 * size : 0);
      const month = {
        dynamo: MONTH_MINUTES * (readUnits * PRICE.dynamoReadUnit + writeUnits * PRICE.dynamoWriteUnit),
        lambda:
          MONTH_MINUTES * (steady.invocations * PRICE.lambdaRequest + lambdaGbSeconds * PRICE.lambdaGbSecond),
        sqs: MONTH_MINUTES * sqsRequests * PRICE.sqsRequest,
        cloudwatch:
          customMetrics * PRICE.customMetricMonth +
          (MONTH_MINUTES * emitted.bytes * PRICE.logsIngestGb) / 1e9,
        // Daily inventory of ~30 days of WAL (2 segments a minute, 86,400 objects a cluster) and its reads.
        s3:
          30 * size * 86_400 * (PRICE.inventoryPerMillionObjects / 1e6) +
          30 * PRICE.s3Get * 10 +
          2 * 96 * 30 * size * PRICE.s3List,
      };
      const total = Object.values(month).reduce((a, b) => a + b, 0);
      rows.push(
        `| ${size.toLocaleString('en-US')} | ${perCluster.toFixed(2)} | ${[month.dynamo, month.lambda, month.sqs, month.cloudwatch, month.s3].map((v) => `$${(v / size).toFixed(4)}`).join(' | ')} | **$${(total / size).toFixed(4)}** |`,
      );
      if (size === 10_000)
        process.stdout.write(
          `10,000 clusters: first (full) sweep ${(first.ms / 1000).toFixed(1)} s (target ≤ 45 s) ${first.ms <= 45_000 ? 'OK' : 'MISSED'}; mean shard ${(first.shardTimes.reduce((a, b) => a + b, 0) / first.shardTimes.length / 1000).toFixed(2)} s\n`,
        );
    }
    process.stdout.write(
      `peak RSS ${(peakRss / MIB).toFixed(0)} MiB (sweeper and dynalite in one process; target ≤ 512 MB) ${peakRss <= 512 * MIB ? 'OK' : 'MISSED'}\n`,
    );
    process.stdout.write(
      '\n| clusters | DynamoDB requests per cluster-minute | DynamoDB | Lambda | SQS | CloudWatch | S3 | total per cluster-month |\n|---|---|---|---|---|---|---|---|\n',
    );
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    clearInterval(sampler);
    db.destroy();
    await store.stop();
  }
  await benchReconcile();
}

/** Full reconcile of N objects: from an inventory report (3 files folded in parallel) vs a listing. */
async function benchReconcile(): Promise<void> {
  if (!motoAvailable()) return;
  const moto = await startMoto();
  const dynamo = await startEmbeddedStore();
  try {
    const region = 'eu-central-1';
    for (const bucket of ['bench-archive', 'bench-inventory'])
      await moto.s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: { LocationConstraint: region },
        }),
      );
    const objects = generateArchive({
      clusterId: 'spilo/bench/wal/15',
      segmentSize: 16 * MIB,
      segments: 3000,
      switches: [],
      backups: [1, 1500],
    });
    await pMap(
      objects,
      async (object) => {
        await moto.s3.send(
          new PutObjectCommand({ Bucket: 'bench-archive', Key: object.key, Body: object.content ?? 'x' }),
        );
      },
      { concurrency: 16 },
    );
    const report = await writeInventoryReport(moto.s3, {
      sourceBucket: 'bench-archive',
      destinationBucket: 'bench-inventory',
      prefix: 'inventory',
      configId: 'daily',
      createdAt: Date.now(),
      files: 3,
    });
    const deps = (table: string): ReconcileDependencies => ({
      db: dynamo.db,
      table,
      s3: moto.s3,
      bucket: 'bench-archive',
      segmentSizeOf: () => 16 * MIB,
      readDocument: (key, compression) => readArchiveDocument(moto.s3, 'bench-archive', key, compression),
    });
    const { CreateTableCommand, DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { describeTable } = await import('../shared/store/table.js');
    const raw = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'local',
      credentials: { accessKeyId: 'walwatch-local', secretAccessKey: 'walwatch-local' },
    });
    for (const table of ['listed', 'inventoried'])
      await raw.send(new CreateTableCommand(describeTable(table)));
    raw.destroy();
    let started = performance.now();
    await reconcileArchive(deps('listed'), { full: true });
    const listingMs = performance.now() - started;
    started = performance.now();
    const lookup = await findNewestManifest(moto.s3, report.location, { now: Date.now() });
    if (lookup.kind !== 'found') throw new Error(`no report: ${lookup.kind}`);
    await Promise.all(
      inventoryFileMessages(lookup.manifest).map((m) => reconcileInventoryFile(deps('inventoried'), m)),
    );
    const inventoryMs = performance.now() - started;
    process.stdout.write(
      `\nfull reconcile of ${report.rows} objects: listing ${(listingMs / 1000).toFixed(1)} s (${Math.ceil(report.rows / 1000)} LIST requests, one Lambda); inventory ${(inventoryMs / 1000).toFixed(1)} s (3 data files in parallel, 1 LIST + ${2 + 3} GET requests), ratio ${(listingMs / inventoryMs).toFixed(2)}×; at 100 M objects a listing is 100,000 LIST requests in sequence (hours: beyond one 15-minute Lambda), a report's files fold side by side\n`,
    );
  } finally {
    await dynamo.stop();
    await moto.stop();
  }
}
