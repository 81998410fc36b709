/**
 * Fleet scale-out benchmark (`npm run bench fleet-scale`): sweeps of 10, 100, 1,000 and 10,000 generated
 * clusters against dynalite running in its own process (as DynamoDB is to the functions), sharded as the
 * sweeper fans them out: the planning sweeper here, the shards (250 clusters) on sweep worker processes,
 * as many at once as the SQS event source's `maxConcurrency` (10; `WALWATCH_BENCH_WORKERS` to change),
 * every DynamoDB request counted by operation. Then a full reconcile from an S3 Inventory report vs from a
 * listing of the same objects on moto. Prints the counts the README's cost table is computed from, and the
 * monthly cost per cluster at us-east-1 list prices.
 * Targets: a full sweep of 10,000 clusters ≤ 45 s wall time, a sweep worker's peak RSS ≤ 512 MB,
 * ≤ $0.05 per cluster per month at 10,000.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pMap from 'p-map';
import { AUTO_CLUSTER_METRICS_MAX } from '../shared/config/cluster-metrics.js';
import { DEFAULT_FAN_OUT_ABOVE, DEFAULT_SHARD_SIZE } from '../shared/config/sweep-config.js';
import { buildClusterStates, type ClusterState } from '../shared/core/state.js';
import { findNewestManifest } from '../shared/events/inventory-manifest.js';
import { type ReconcileDependencies, reconcileArchive } from '../shared/events/reconcile-archive.js';
import { inventoryFileMessages, reconcileInventoryFile } from '../shared/events/reconcile-inventory.js';
import { readArchiveDocument } from '../shared/events/s3-objects.js';
import { startEmbeddedStore } from '../shared/local/embedded-store.js';
import { planFanOut } from '../shared/monitor/sweep-shards.js';
import { putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../test/support/archive-generator.js';
import { writeInventoryReport } from '../test/support/inventory-report.js';
import { motoAvailable, startMoto } from '../test/support/moto.js';
import { cpuSecondsOf, peakRssOf, startDynamoProcess } from './support/dynamo-process.js';
import { RequestCounter } from './support/request-counter.js';
import { startSweepWorkers } from './support/sweep-workers.js';

const MIB = 1024 * 1024;
const MINUTE = 60_000;
const MONTH_MINUTES = 43_200;
/** `WALWATCH_BENCH_SIZES=10,100` for a quick run. */
const SIZES = (process.env.WALWATCH_BENCH_SIZES ?? '10,100,1000,10000').split(',').map(Number);
/** The sweep worker's `maxConcurrency` on its SQS event source (`infra/constructs/wal-backup-monitor.ts`). */
const WORKERS = Number(process.env.WALWATCH_BENCH_WORKERS ?? 10);
/** How often a cluster's state changes (new WAL, a backup): Spilo's heartbeat and `archive_timeout` bound it. */
const CHANGE_EVERY_MINUTES = 5;
/** Head-based reconcile runs a day at the default `reconcileEvery` (1 hour), and at 15 minutes. */
const RECONCILES_PER_DAY = 24;
const RECONCILES_PER_DAY_15_MIN = 96;

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
  const dynamo = await startDynamoProcess();
  const counter = new RequestCounter();
  const db = dynamo.client();
  counter.attach(db);
  const workers = await startSweepWorkers(WORKERS, dynamo.endpoint);
  const now = Date.parse('2026-11-20T12:00:00Z');
  const template = templateState(now);
  const rows: string[] = [];
  try {
    for (const size of SIZES) {
      const table = `fleet-${size}`;
      await dynamo.createTable(table);
      const ids = Array.from({ length: size }, (_, i) => `fleet/c${String(i).padStart(5, '0')}/wal/15`);
      const seeded = Date.now();
      await pMap(
        ids,
        async (id) => {
          await putClusterState(db, table, { ...structuredClone(template), id }, 0);
        },
        { concurrency: 32 },
      );
      const seedSeconds = (Date.now() - seeded) / 1000;
      const data = createDynamoMonitorData(db, table);
      const emitted = { cluster: 0, fleet: 0, bytes: 0 };
      const clusterMetrics = size <= AUTO_CLUSTER_METRICS_MAX;
      /** One sweep as it runs: in the sweeper alone up to the fan-out size, else planned here, shards on the workers. */
      const sweepOnce = async (at: number) => {
        const started = performance.now();
        const dynamoCpu = dynamo.cpuSeconds();
        const fanOut = size > DEFAULT_FAN_OUT_ABOVE;
        const plan = fanOut
          ? await planFanOut(data, await data.listClusterIds(), at, DEFAULT_SHARD_SIZE)
          : { shards: [{ clusters: await data.listClusterIds() }] };
        const reports = await workers.sweep(
          plan.shards.map((shard) => ({ table, at, clusters: shard.clusters, clusterMetrics })),
        );
        const ms = performance.now() - started;
        for (const report of reports) {
          counter.add(report.counts);
          emitted.cluster += report.emitted.cluster;
          emitted.fleet += report.emitted.fleet;
          emitted.bytes += report.emitted.bytes;
        }
        return {
          ms,
          invocations: 1 + (fanOut ? plan.shards.length : 0),
          shardTimes: reports.map((report) => report.ms),
          shards: fanOut ? plan.shards.length : 0,
          analyzed: reports.reduce((sum, report) => sum + report.analyzed, 0),
          dynamoCpu: dynamo.cpuSeconds() - dynamoCpu,
        };
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
        // Daily inventory of ~30 days of WAL (2 segments a minute, 86,400 objects a cluster) and its reads,
        // and the head-based reconcile's 2 LIST requests per cluster a run.
        s3:
          30 * size * 86_400 * (PRICE.inventoryPerMillionObjects / 1e6) +
          30 * PRICE.s3Get * 10 +
          2 * RECONCILES_PER_DAY * 30 * size * PRICE.s3List,
      };
      const total = Object.values(month).reduce((a, b) => a + b, 0);
      const every15 = total + 2 * (RECONCILES_PER_DAY_15_MIN - RECONCILES_PER_DAY) * 30 * size * PRICE.s3List;
      process.stdout.write(
        `  monitor cost ${`$${(total / size).toFixed(4)}`} per cluster-month (target $0.05, ratio ${(total / size / 0.05).toFixed(2)}) with hourly reconcile (the default); $${(every15 / size).toFixed(4)} with reconcile every 15 min\n`,
      );
      rows.push(
        `| ${size.toLocaleString('en-US')} | ${perCluster.toFixed(2)} | ${[month.dynamo, month.lambda, month.sqs, month.cloudwatch, month.s3].map((v) => `$${(v / size).toFixed(4)}`).join(' | ')} | **$${(total / size).toFixed(4)}** |`,
      );
      if (size === 10_000)
        process.stdout.write(
          `10,000 clusters: full sweep (every cluster analysed) ${(first.ms / 1000).toFixed(1)} s wall, ${first.shards} shards on ${workers.size} worker processes (target ≤ 45 s, ratio ${(first.ms / 45_000).toFixed(2)}) ${first.ms <= 45_000 ? 'OK' : 'MISSED'}; mean shard ${(first.shardTimes.reduce((a, b) => a + b, 0) / first.shardTimes.length / 1000).toFixed(2)} s; dynalite CPU ${first.dynamoCpu.toFixed(1)} s of it\n`,
        );
    }
    const workerRss = workers.stats().peakRss;
    process.stdout.write(
      `peak RSS of a sweep worker ${(workerRss / MIB).toFixed(0)} MiB (target ≤ 512 MB, ratio ${(workerRss / MIB / 512).toFixed(2)}) ${workerRss <= 512 * MIB ? 'OK' : 'MISSED'}; planning sweeper (this process, with the seeding) ${(peakRssOf('self') / MIB).toFixed(0)} MiB; dynalite (own process) ${(dynamo.peakRss() / MIB).toFixed(0)} MiB; CPU: workers ${workers.stats().cpuSeconds.toFixed(0)} s, dynalite ${dynamo.cpuSeconds().toFixed(0)} s, this process ${cpuSecondsOf('self').toFixed(0)} s\n`,
    );
    process.stdout.write(
      '\n| clusters | DynamoDB requests per cluster-minute | DynamoDB | Lambda | SQS | CloudWatch | S3 | total per cluster-month |\n|---|---|---|---|---|---|---|---|\n',
    );
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    await workers.stop();
    db.destroy();
    await dynamo.stop();
  }
  if (process.env.WALWATCH_BENCH_RECONCILE !== '0') await benchReconcile();
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
