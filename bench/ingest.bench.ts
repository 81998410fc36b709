/**
 * `npm run bench ingest`: segment events through the ingest path (`ingestMessages`: parse, gate, fact
 * writes, one state write per cluster per batch) against dynalite, plus the handler's bundle size and
 * module load time.
 *
 * Scaled down to stay quick: 2,000 segments of one cluster (dynalite does ~1,400 puts/s on this machine);
 * DynamoDB's per-request cost does not depend on the table size, so the ratios hold for larger archives.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import type { ObjectEvent } from '../shared/core/facts.js';
import { walFileName } from '../shared/core/lsn.js';
import { buildClusterStates, type ClusterState } from '../shared/core/state.js';
import { ingestMessages } from '../shared/events/ingest-messages.js';
import { encodeClusterState, putClusterState } from '../shared/store/cluster-states.js';
import type { FoldCounts } from '../shared/store/fold-events.js';
import {
  contentLookup,
  generateArchive as generateBenchArchive,
  MILLION_SEGMENT_ARCHIVE,
} from '../test/support/archive-generator.js';
import { startDynalite } from '../test/support/dynalite.js';
import { notificationBody } from '../test/support/s3-notification-body.js';

const SEGMENTS = 2_000;
const SEGMENT_SIZE = 16 * 1024 * 1024;
const BUCKET = 'bench-archive';
const TARGETS = { writesPerSegment: 2, bundleKb: 300, loadMs: 150 };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Requests and capacity units seen by a client, by operation. */
interface Usage {
  requests: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  /** Puts that create or move a segment's entry in the sparse index: DynamoDB bills each (dynalite does not). */
  indexWrites: number;
}

function meter(db: DynamoDBDocumentClient): Usage {
  const usage: Usage = { requests: {}, readUnits: 0, writeUnits: 0, indexWrites: 0 };
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? 'unknown')
        .replace(/Command$/, '')
        .replace(/Item$/, '');
      usage.requests[operation] = (usage.requests[operation] ?? 0) + 1;
      const item = (args.input as { Item?: { gc?: string } }).Item;
      if (item?.gc?.startsWith('n#')) usage.indexWrites += 1;
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      const units = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
        (sum: number, item: { CapacityUnits?: number }) => sum + (item.CapacityUnits ?? 0),
        0,
      );
      if (operation === 'Put') usage.writeUnits += units;
      else usage.readUnits += units;
      return result;
    },
    { step: 'initialize', name: 'benchMeter' },
  );
  return usage;
}

/** Where the benchmark's segments go: a new cluster, or the end of the million-segment archive's state. */
interface Target {
  readonly clusterId: string;
  readonly timeline: number;
  readonly firstSegno: number;
  readonly label: string;
}

const NEW_CLUSTER: Target = {
  clusterId: 'spilo/bench/wal/15',
  timeline: 1,
  firstSegno: 1,
  label: 'new cluster',
};

/** Stores the state of the 1,000,000-segment, 200-backup benchmark archive and aims the events at its head. */
async function seedMillionSegmentState(db: DynamoDBDocumentClient, table: string): Promise<Target> {
  const objects = generateBenchArchive(MILLION_SEGMENT_ARCHIVE);
  const states = buildClusterStates(objects, contentLookup(objects), () => SEGMENT_SIZE);
  const state = states.get(MILLION_SEGMENT_ARCHIVE.clusterId) as ClusterState;
  await putClusterState(db, table, state, 0);
  const timeline = Math.max(...Object.keys(state.segments).map(Number));
  const head = state.segments[String(timeline)]?.at(-1)?.[1] ?? 0;
  const kb = (encodeClusterState(state).byteLength / 1024).toFixed(1);
  return {
    clusterId: state.id,
    timeline,
    firstSegno: head + 1,
    label: `at the head of a 1,000,000-segment, 200-backup state (${kb} KB compressed)`,
  };
}

async function runIngest(batchSize: number, workers: number, million = false): Promise<void> {
  const dynamo = await startDynalite();
  try {
    const target = million ? await seedMillionSegmentState(dynamo.db, dynamo.table) : NEW_CLUSTER;
    const db = dynamo.client();
    const usage = meter(db);
    const deps = {
      db,
      table: dynamo.table,
      segmentSizeOf: () => SEGMENT_SIZE,
      readDocument: async () => ({ error: 'not read in this benchmark' }),
    };
    const start = Date.parse('2026-11-24T00:00:00Z');
    const bodies = Array.from({ length: SEGMENTS }, (_, index): string => {
      const event: ObjectEvent = {
        key: `${target.clusterId}/wal_005/${walFileName(target.timeline, target.firstSegno + index, SEGMENT_SIZE)}.lz4`,
        type: 'created',
        at: start + index * 1000,
        size: 4_000_000,
        etag: `etag-${index}`,
        sequencer: (0x1000 + index).toString(16).toUpperCase(),
      };
      return notificationBody(BUCKET, event);
    });
    const batches: Array<Array<{ messageId: string; body: string }>> = [];
    for (let i = 0; i < bodies.length; i += batchSize) {
      batches.push(bodies.slice(i, i + batchSize).map((body, n) => ({ messageId: `${i + n}`, body })));
    }
    const totals: Partial<FoldCounts> = {};
    let redelivered = 0;
    const began = performance.now();
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let batch = batches.shift(); batch; batch = batches.shift()) {
          const report = await ingestMessages(deps, BUCKET, batch);
          // As SQS would: failed messages (conflict retries exhausted) come back in a later batch.
          const failed = new Set(report.failures.map((failure) => failure.messageId));
          if (failed.size > 0) {
            redelivered += failed.size;
            batches.push(batch.filter((message) => failed.has(message.messageId)));
          }
          for (const [name, value] of Object.entries(report.counts)) {
            const key = name as keyof FoldCounts;
            totals[key] = (totals[key] ?? 0) + value;
          }
        }
      }),
    );
    const seconds = (performance.now() - began) / 1000;
    const requests = Object.values(usage.requests).reduce((sum, n) => sum + n, 0);
    const writes = usage.requests.Put ?? 0;
    const line = (label: string, value: string) => process.stdout.write(`  ${label.padEnd(34)} ${value}\n`);
    process.stdout.write(
      `\n ${SEGMENTS} segment events, SQS batches of ${batchSize}, ${workers} concurrent workers, ${target.label}\n`,
    );
    line('events/s', (SEGMENTS / seconds).toFixed(0));
    line(
      'DynamoDB requests',
      `${requests} (${(requests / SEGMENTS).toFixed(2)} per segment) ${JSON.stringify(usage.requests)}`,
    );
    line(
      'writes per segment',
      `${(writes / SEGMENTS).toFixed(2)} requests, ${(usage.writeUnits / SEGMENTS).toFixed(2)} WCU (target ≤ ${TARGETS.writesPerSegment})`,
    );
    line(
      'with index writes (as billed)',
      `${((usage.writeUnits + usage.indexWrites) / SEGMENTS).toFixed(2)} WCU: +1 per new segment for its sparse-index entry`,
    );
    line('read units per segment', (usage.readUnits / SEGMENTS).toFixed(2));
    line(
      'conditional-write retries',
      `facts ${totals.factConflicts ?? 0}, states ${totals.stateConflicts ?? 0}`,
    );
    line('messages redelivered', String(redelivered));
  } finally {
    await dynamo.stop();
  }
}

async function measureBundle(): Promise<void> {
  const outdir = join(root, '.tmp', 'bench');
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'ingest.mjs');
  await build({
    entryPoints: [join(root, 'functions', 'ingest.ts')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['@aws-sdk/*'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  const kb = statSync(outfile).size / 1024;
  const probe = `const t = performance.now(); await import(${JSON.stringify(outfile)}); console.log((performance.now() - t).toFixed(1));`;
  const env = {
    ...process.env,
    WALWATCH_ARCHIVE_BUCKET: BUCKET,
    WALWATCH_TABLE_NAME: 'walwatch',
    AWS_REGION: 'eu-central-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const loads = Array.from({ length: 5 }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', probe], { env, cwd: root }).toString(),
    ),
  ).sort((a, b) => a - b);
  const median = loads[2] ?? Number.NaN;
  process.stdout.write('\n handler bundle (esbuild, minified, ESM, AWS SDK external)\n');
  process.stdout.write(
    `  ${'bundle size'.padEnd(34)} ${kb.toFixed(0)} KB (target ≤ ${TARGETS.bundleKb} KB)\n`,
  );
  const sdkFirst = `await import('@aws-sdk/client-dynamodb'); await import('@aws-sdk/lib-dynamodb'); ${probe}`;
  const own = Array.from({ length: 5 }, () =>
    Number(
      execFileSync(process.execPath, ['--input-type=module', '-e', sdkFirst], { env, cwd: root }).toString(),
    ),
  ).sort((a, b) => a - b);
  process.stdout.write(
    `  ${'module load, handler code'.padEnd(34)} ${(own[2] ?? Number.NaN).toFixed(0)} ms median of 5, SDK already loaded (target ≤ ${TARGETS.loadMs} ms)\n`,
  );
  process.stdout.write(
    `  ${'module load, with the SDK'.padEnd(34)} ${median.toFixed(0)} ms median of 5, cold process, DynamoDB SDK from node_modules (client-s3 loads on the first document read)\n`,
  );
}

/** Runs the benchmark and prints its numbers. */
export default async function benchIngest(): Promise<void> {
  await runIngest(10, 1);
  await runIngest(100, 1);
  await runIngest(10, 8);
  await runIngest(10, 1, true);
  await runIngest(100, 1, true);
  await measureBundle();
}
