/**
 * Full reconcile from S3 Inventory on local servers (moto S3 and SQS, dynalite): a report written in S3's
 * layout and folded file by file, in parallel, gives the stored states a full listing of the same objects
 * gives; the reconcile Lambda fans the report's files out over SQS to the worker, and lists instead, saying
 * so in its log, when the report is missing, incomplete or stale.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../shared/config/env.js';
import { findNewestManifest } from '../../shared/events/inventory-manifest.js';
import { type ReconcileDependencies, reconcileArchive } from '../../shared/events/reconcile-archive.js';
import { inventoryFileMessages, reconcileInventoryFile } from '../../shared/events/reconcile-inventory.js';
import { readArchiveDocument } from '../../shared/events/s3-objects.js';
import { getClusterStateWithParts, listClusterIds } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { generateArchive, SEGMENT_SIZE } from '../support/generated-archive.js';
import { writeInventoryReport } from '../support/inventory-report.js';
import { stubLocalAwsEnv } from '../support/local-aws-env.js';
import { type LocalMoto, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';

const available = motoAvailable();
const CLUSTERS = ['spilo/adopted/wal/15', 'backups/other cluster'];
const HOUR = 3_600_000;
const SOURCE = 'wal-archive';
const DESTINATION = 'wal-inventory';

let moto: LocalMoto;
let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  if (!available) return;
  [moto, dynamo] = await Promise.all([startMoto(), startDynalite()]);
  for (const bucket of [SOURCE, DESTINATION])
    await moto.s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
      }),
    );
  const archive = generateArchive(11, { clusters: CLUSTERS, segments: 24, timelineSwitch: true });
  const last = new Map(archive.events.map((event) => [event.key, event]));
  for (const event of last.values()) {
    if (event.type !== 'created') continue;
    const body = archive.bodies.get(event.key) ?? `segment ${event.key}`;
    await moto.s3.send(new PutObjectCommand({ Bucket: SOURCE, Key: event.key, Body: body }));
  }
}, 60_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([moto?.stop(), dynamo?.stop()]);
});

async function depsWithNewTable(): Promise<ReconcileDependencies> {
  const table = await dynamo.createTable(`inventory-${tables++}`);
  return {
    db: dynamo.db,
    table,
    s3: moto.s3,
    bucket: SOURCE,
    segmentSizeOf: () => SEGMENT_SIZE,
    readDocument: (key, compression) => readArchiveDocument(moto.s3, SOURCE, key, compression),
  };
}

/** Every stored cluster state of a table, parts included. */
async function storedStates(deps: ReconcileDependencies): Promise<Map<string, unknown>> {
  const states = new Map<string, unknown>();
  for (const id of await listClusterIds(deps.db, deps.table))
    states.set(id, (await getClusterStateWithParts(deps.db, deps.table, id))?.state);
  return states;
}

describe.skipIf(!available)('reconcile from S3 Inventory', () => {
  it('stores the same states from a report folded file by file in parallel as from a full listing', async () => {
    const report = await writeInventoryReport(moto.s3, {
      sourceBucket: SOURCE,
      destinationBucket: DESTINATION,
      prefix: 'same/inventory',
      configId: 'walwatch-daily',
      createdAt: Date.now() - HOUR,
      files: 3,
    });
    // An older report of the same configuration, with fewer files: the newest one is read.
    await writeInventoryReport(moto.s3, {
      sourceBucket: SOURCE,
      destinationBucket: DESTINATION,
      prefix: 'same/inventory',
      configId: 'walwatch-daily',
      createdAt: Date.now() - 25 * HOUR,
      files: 1,
    });
    const lookup = await findNewestManifest(moto.s3, report.location, { now: Date.now() });
    expect(lookup.kind).toBe('found');
    if (lookup.kind !== 'found') return;
    expect(lookup.manifest.key).toBe(report.manifestKey);
    expect(lookup.manifest.files).toHaveLength(3);

    const listed = await depsWithNewTable();
    const listing = await reconcileArchive(listed, { full: true });
    expect(listing.failed).toBe(0);

    const fromInventory = await depsWithNewTable();
    const folded = await Promise.all(
      inventoryFileMessages(lookup.manifest).map((message) => reconcileInventoryFile(fromInventory, message)),
    );
    expect(folded.reduce((sum, file) => sum + file.objects, 0)).toBe(report.rows);
    expect(folded.every((file) => file.failed === 0)).toBe(true);

    const expected = await storedStates(listed);
    expect([...expected.keys()].sort()).toEqual([...CLUSTERS].sort());
    expect(await storedStates(fromInventory)).toEqual(expected);
  });

  it('folds nothing of a data file whose checksum does not match its manifest', async () => {
    const report = await writeInventoryReport(moto.s3, {
      sourceBucket: SOURCE,
      destinationBucket: DESTINATION,
      prefix: 'tampered',
      configId: 'daily',
      createdAt: Date.now(),
      files: 1,
    });
    const lookup = await findNewestManifest(moto.s3, report.location, { now: Date.now() });
    if (lookup.kind !== 'found') throw new Error(`no report: ${lookup.kind}`);
    const [message] = inventoryFileMessages(lookup.manifest);
    const deps = await depsWithNewTable();
    const wrong = { ...(message as NonNullable<typeof message>) };
    await expect(
      reconcileInventoryFile(deps, { ...wrong, file: { ...wrong.file, MD5checksum: '0'.repeat(32) } }),
    ).rejects.toThrow(/has MD5 [0-9a-f]{32}, the manifest says 0{32}/);
    expect(await listClusterIds(deps.db, deps.table)).toEqual([]);
  });

  it('takes the report before one still being delivered (no manifest.checksum yet)', async () => {
    const complete = await writeInventoryReport(moto.s3, {
      sourceBucket: SOURCE,
      destinationBucket: DESTINATION,
      prefix: 'delivering',
      configId: 'daily',
      createdAt: Date.now() - 24 * HOUR,
      files: 1,
    });
    await writeInventoryReport(moto.s3, {
      sourceBucket: SOURCE,
      destinationBucket: DESTINATION,
      prefix: 'delivering',
      configId: 'daily',
      createdAt: Date.now(),
      files: 1,
      withoutChecksum: true,
    });
    const lookup = await findNewestManifest(moto.s3, complete.location, { now: Date.now() });
    expect(lookup).toMatchObject({ kind: 'found', manifest: { key: complete.manifestKey } });
  });

  describe('the reconcile Lambda', () => {
    const context = { functionName: 'walwatch-reconcile', awsRequestId: 'r-1' } as Context;
    let queueUrl: string;
    let deps: ReconcileDependencies;

    /** Imports the handlers afresh with the inventory under `prefix`, and runs `work` capturing the log. */
    async function run(prefix: string, work: (handlers: Handlers) => Promise<unknown>): Promise<string[]> {
      vi.resetModules();
      vi.stubEnv(ENV.inventoryLocation, `s3://${DESTINATION}/${prefix}/${SOURCE}/daily/`);
      const handlers: Handlers = {
        reconcile: (await import('../../functions/reconcile.js')).handler,
        worker: (await import('../../functions/reconcile-worker.js')).handler,
      };
      const lines: string[] = [];
      // Powertools writes INFO to stdout and WARN to stderr.
      const capture = (chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      };
      const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
      const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
      try {
        await work(handlers);
      } finally {
        out.mockRestore();
        err.mockRestore();
      }
      return lines.flatMap((line) => line.split('\n')).filter((line) => line.startsWith('{'));
    }
    interface Handlers {
      reconcile: typeof import('../../functions/reconcile.js')['handler'];
      worker: typeof import('../../functions/reconcile-worker.js')['handler'];
    }

    beforeAll(async () => {
      if (!available) return;
      queueUrl = (await moto.sqs.send(new CreateQueueCommand({ QueueName: 'inventory-files' })))
        .QueueUrl as string;
      deps = await depsWithNewTable();
      stubLocalAwsEnv({ dynamo, moto });
      vi.stubEnv('AWS_ENDPOINT_URL_SQS', moto.endpoint);
      vi.stubEnv('AWS_S3_FORCE_PATH_STYLE', 'true');
      vi.stubEnv(ENV.archiveBucketName, SOURCE);
      vi.stubEnv(ENV.tableName, deps.table);
      vi.stubEnv(ENV.reconcileQueueUrl, queueUrl);
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    });

    it('sends each data file of a fresh report to the worker, which folds them', async () => {
      await writeInventoryReport(moto.s3, {
        sourceBucket: SOURCE,
        destinationBucket: DESTINATION,
        prefix: 'lambda',
        configId: 'daily',
        createdAt: Date.now() - HOUR,
        files: 2,
      });
      await run('lambda', async ({ reconcile, worker }) => {
        const result = await reconcile({ full: true }, context);
        expect(result.inventory).toMatchObject({ files: 2 });
        expect(result.listings).toEqual([]);
        const received = await moto.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        expect(received.Messages).toHaveLength(2);
        const response = await worker(
          {
            Records: (received.Messages ?? []).map(
              (m) => ({ messageId: m.MessageId, body: m.Body }) as SQSEvent['Records'][number],
            ),
          },
          context,
        );
        expect(response?.batchItemFailures).toEqual([]);
      });
      expect([...(await storedStates(deps)).keys()].sort()).toEqual([...CLUSTERS].sort());
    });

    it.each([
      ['missing', 'nowhere', 'no inventory report under'],
      ['stale', 'stale', 'stale'],
    ])('lists the bucket when the report is %s, and says so in its log', async (_, prefix, reason) => {
      if (prefix === 'stale')
        await writeInventoryReport(moto.s3, {
          sourceBucket: SOURCE,
          destinationBucket: DESTINATION,
          prefix,
          configId: 'daily',
          createdAt: Date.now() - 72 * HOUR,
          files: 1,
        });
      const log = await run(prefix, async ({ reconcile }) => {
        const result = await reconcile({ full: true }, context);
        expect(result.inventory).toBeUndefined();
        expect(result.listings).toEqual([{ prefix: '', startAfter: null, listed: expect.any(Number) }]);
      });
      const warning = log.map((line) => JSON.parse(line)).find((entry) => entry.level === 'WARN');
      expect(warning).toMatchObject({ message: 'inventory report not usable, listing the bucket instead' });
      expect(warning.reason).toContain(reason);
    });
  });
});
