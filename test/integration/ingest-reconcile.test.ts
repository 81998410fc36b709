/**
 * Reconciliation on local servers: adopting an existing bucket with one listing, and healing missed
 * events by listing each cluster from its head onwards.
 */

import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../shared/core/analyze.js';
import { parseObjectKey } from '../../shared/core/keys.js';
import { walFileName } from '../../shared/core/lsn.js';
import type { SegmentSizeSetting } from '../../shared/core/segment-size.js';
import {
  buildClusterStates,
  type ClusterState,
  type ListedObject,
  needsContent,
} from '../../shared/core/state.js';
import { type ReconcileDependencies, reconcileArchive } from '../../shared/events/reconcile-archive.js';
import { listObjectsAfter, readArchiveDocument } from '../../shared/events/s3-objects.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { generateArchive, SEGMENT_SIZE } from '../support/generated-archive.js';
import { type LocalMoto, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';

const available = motoAvailable();
const CLUSTERS = ['spilo/adopted/wal/15', 'backups/other cluster'];

let moto: LocalMoto;
let dynamo: LocalDynamo;
let buckets = 0;

beforeAll(async () => {
  if (available) [moto, dynamo] = await Promise.all([startMoto(), startDynalite()]);
});
afterAll(async () => {
  await Promise.all([moto?.stop(), dynamo?.stop()]);
});

/** A fresh bucket and table, and the reconcile dependencies for them. */
async function createArchive(): Promise<ReconcileDependencies> {
  const bucket = `adopt-${buckets++}`;
  await moto.s3.send(
    new CreateBucketCommand({
      Bucket: bucket,
      CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
    }),
  );
  const table = await dynamo.createTable(bucket);
  return {
    db: dynamo.db,
    table,
    s3: moto.s3,
    bucket,
    segmentSizeOf: () => SEGMENT_SIZE,
    readDocument: (key, compression) => readArchiveDocument(moto.s3, bucket, key, compression),
  };
}

/** Stores the objects present at the end of a generated archive's events. */
async function upload(deps: ReconcileDependencies, seed: number, segments: number): Promise<void> {
  const archive = generateArchive(seed, { clusters: CLUSTERS, segments, timelineSwitch: true });
  const last = new Map(archive.events.map((event) => [event.key, event]));
  for (const event of last.values()) {
    if (event.type !== 'created') continue;
    const body = archive.bodies.get(event.key) ?? `segment ${event.key}`;
    await moto.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: event.key, Body: body }));
  }
}

/** The states a full listing analysis (`walwatch analyze`) builds from the bucket. */
async function statesOfListing(
  deps: ReconcileDependencies,
  segmentSize: SegmentSizeSetting = SEGMENT_SIZE,
): Promise<Map<string, ClusterState>> {
  const objects: ListedObject[] = [];
  const contents = new Map<string, { text: string } | { error: string }>();
  for await (const event of listObjectsAfter(deps.s3, deps.bucket, '')) {
    objects.push({ key: event.key, at: event.at, size: event.size ?? null, etag: event.etag ?? null });
    const parsed = parseObjectKey(event.key);
    if (parsed && needsContent(parsed.object)) {
      const compression = 'compression' in parsed.object ? parsed.object.compression : 'none';
      contents.set(event.key, await deps.readDocument(event.key, compression));
    }
  }
  return buildClusterStates(
    objects,
    (key) => contents.get(key),
    () => segmentSize,
  );
}

async function expectStoredStatesOfListing(
  deps: ReconcileDependencies,
  segmentSize: SegmentSizeSetting = SEGMENT_SIZE,
): Promise<void> {
  const expected = await statesOfListing(deps, segmentSize);
  expect([...expected.keys()].sort()).toEqual([...CLUSTERS].sort());
  for (const [clusterId, state] of expected) {
    const stored = (await getClusterStateWithParts(deps.db, deps.table, clusterId))?.state;
    // The pipeline reads one segment head per cluster; a listing reads none. These bodies are not WAL.
    const { headerSizeError, ...rest } = stored ?? ({} as NonNullable<typeof stored>);
    expect(headerSizeError?.error ?? 'none').toMatch(/lz4 frame|none/);
    expect(rest).toEqual(state);
  }
}

describe.skipIf(!available)('reconcileArchive', () => {
  it('adopts an existing bucket with one full listing into the states a full analysis builds', async () => {
    const deps = await createArchive();
    await upload(deps, 5, 20);
    const report = await reconcileArchive(deps);
    expect(report.listings).toEqual([{ prefix: '', startAfter: null, listed: expect.any(Number) }]);
    expect(report.failed).toBe(0);
    await expectStoredStatesOfListing(deps);
  });

  it('folds a listing in small batches into the same states, counting every object once', async () => {
    const deps = await createArchive();
    await upload(deps, 5, 20);
    const report = await reconcileArchive(deps, { batchSize: 7 });
    const listed = report.listings.reduce((sum, listing) => sum + listing.listed, 0);
    expect(listed).toBeGreaterThan(7 * 3);
    expect(report.counts.changed + report.counts.unchanged).toBe(listed);
    expect(report.failed).toBe(0);
    await expectStoredStatesOfListing(deps);
  });

  it('heals missed events by listing each cluster from its head onwards only', async () => {
    const deps = await createArchive();
    await upload(deps, 6, 12);
    await reconcileArchive(deps);
    // The archive grows while no events arrive: new segments on timeline 2 and a new backup.
    const root = 'spilo/adopted/wal/15';
    for (let segno = 13; segno <= 20; segno++) {
      const key = `${root}/wal_005/${walFileName(2, segno, SEGMENT_SIZE)}.lz4`;
      await moto.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: `segment ${segno}` }));
    }
    const backup = `${root}/basebackups_005/base_${walFileName(2, 16, SEGMENT_SIZE)}`;
    await moto.s3.send(
      new PutObjectCommand({ Bucket: deps.bucket, Key: `${backup}/tar_partitions/part_1.tar`, Body: 'x' }),
    );
    await moto.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: `${backup}_backup_stop_sentinel.json`,
        Body: `{"LSN":${16 * SEGMENT_SIZE + 40},"FinishLSN":${17 * SEGMENT_SIZE + 80}}`,
      }),
    );
    const report = await reconcileArchive(deps);

    const wal = report.listings.find((listing) => listing.prefix === 'spilo/adopted/wal/15/wal_005/');
    expect(wal?.startAfter).toBe('spilo/adopted/wal/15/wal_005/00000002000000000000000C');
    const listed = report.listings.reduce((sum, listing) => sum + listing.listed, 0);
    // The 10 new objects, and per cluster its head segment (at most 2 variants) and newest backup (3 objects).
    expect(listed).toBeLessThanOrEqual(10 + 2 * (2 + 3));
    await expectStoredStatesOfListing(deps);
  });

  it('runs as the scheduled Lambda, and once with {"full": true} to adopt a bucket', async () => {
    const deps = await createArchive();
    await upload(deps, 8, 10);
    Object.assign(process.env, {
      WALWATCH_ARCHIVE_BUCKET: deps.bucket,
      WALWATCH_TABLE_NAME: deps.table,
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: MOTO_REGION,
      AWS_ACCESS_KEY_ID: 'walwatch',
      AWS_SECRET_ACCESS_KEY: 'walwatch',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'WARN',
    });
    const { handler } = await import('../../functions/reconcile.js');
    const context = { functionName: 'walwatch-reconcile', awsRequestId: 'r-1' } as Context;
    const adopted = await handler({ full: true }, context);
    expect(adopted.listings).toEqual([{ prefix: '', startAfter: null, listed: expect.any(Number) }]);
    // No WALWATCH_SEGMENT_SIZE: each cluster's size is learnt from its archive, as analyze does.
    await expectStoredStatesOfListing(deps, 'auto');
    const scheduled = await handler({}, context);
    expect(scheduled.listings.every((listing) => listing.prefix !== '')).toBe(true);
    expect(scheduled.counts.changed).toBe(0);
  });

  it('heals missed removals on a full run: a removed needed segment shows as wal-deleted', async () => {
    const deps = await createArchive();
    await upload(deps, 9, 16);
    await reconcileArchive(deps);
    const root = 'spilo/adopted/wal/15';
    const segment = `${root}/wal_005/${walFileName(1, 3, SEGMENT_SIZE)}.lz4`;
    const part = `${root}/basebackups_005/base_${walFileName(1, 2, SEGMENT_SIZE)}/tar_partitions/part_1.tar.lz4`;
    for (const key of [segment, part])
      await moto.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: key }));

    const report = await reconcileArchive(deps, { full: true, removalMarginMs: 0 });
    expect(report.removed).toBe(2);
    const expected = (await statesOfListing(deps)).get(root);
    const stored = (await getClusterStateWithParts(deps.db, deps.table, root))?.state;
    expect(stored?.deleted).toEqual({ '1': [[3, 3]] });
    expect({ ...stored, deleted: {} }).toEqual(expected);
    const problems = analyzeCluster(stored as ClusterState, { now: Date.now() }).problems;
    expect(problems.map((problem) => problem.kind)).toContain('wal-deleted');
  });

  it('counts nothing as removed that was stored within the margin before the listing', async () => {
    const deps = await createArchive();
    await upload(deps, 10, 8);
    await reconcileArchive(deps);
    const key = `spilo/adopted/wal/15/wal_005/${walFileName(1, 3, SEGMENT_SIZE)}.lz4`;
    await moto.s3.send(new DeleteObjectCommand({ Bucket: deps.bucket, Key: key }));
    const report = await reconcileArchive(deps, { full: true });
    expect(report.removed).toBe(0);
  });

  it('changes nothing when run again on an unchanged bucket', async () => {
    const deps = await createArchive();
    await upload(deps, 7, 16);
    await reconcileArchive(deps);
    const again = await reconcileArchive(deps, { full: true });
    expect(again.counts).toMatchObject({ changed: 0, factWrites: 0, stateWrites: 0 });
  });
});
