/**
 * A PostgreSQL 15 cluster initialised with `initdb --wal-segsize=64` archives WAL and no backup yet. The
 * local monitor (folder source) and the ingest Lambda (moto S3 → SQS → the handler, state in dynalite),
 * with no segment size set, learn 64 MiB from the long page header of one segment and report it as such,
 * without the `segment-size-assumed` problem; once a backup is taken, its LSNs are the ones PostgreSQL gave
 * and the page header agrees with the backup history file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../shared/core/analyze.js';
import type { ClusterReport } from '../../shared/core/report.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import {
  createNotifiedBucket,
  type LocalMoto,
  motoAvailable,
  type NotifiedBucket,
  queuedMessages,
  startMoto,
} from '../support/moto.js';
import { type BaseBackupFacts, type PostgresHarness, startPostgres } from '../support/postgres.js';
import { pollQueue, type SqsHandler } from '../support/sqs-poller.js';

const MIB = 1024 * 1024;
const ROOT = 'spilo/sixty-four/wal/15';
const BUCKET = 'walwatch-header-archive';
const available = motoAvailable();

describe('segment size from a page header, with only WAL archived', () => {
  let pg: PostgresHarness;
  let dataDir: string;
  let monitor: LocalMonitor;
  let moto: LocalMoto;
  let dynamo: LocalDynamo;
  let queues: NotifiedBucket;
  let handler: SqsHandler;
  const uploaded = new Set<string>();
  const switched: string[] = [];

  /** Copies every object of the folder archive not uploaded yet to the bucket, then runs the queue dry. */
  const ingest = async (): Promise<void> => {
    for (const key of await pg.listObjectKeys()) {
      if (uploaded.has(key)) continue;
      uploaded.add(key);
      const body = await readFile(join(pg.bucketDir, ...key.split('/')));
      await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    }
    await pollQueue(moto.sqs, queues.queueUrl, handler, {
      timeoutMs: 30_000,
      done: async () => (await queuedMessages(moto, queues.queueUrl)) === 0,
    });
  };
  const pipelineReport = async (): Promise<ClusterReport> => {
    const stored = await getClusterStateWithParts(dynamo.db, dynamo.table, ROOT);
    if (!stored) throw new Error(`no state stored for ${ROOT}`);
    return analyzeCluster(stored.state, { now: Date.now() });
  };
  const monitorReport = async (): Promise<ClusterReport> => {
    await monitor.syncNow();
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(ROOT)}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { cluster: ClusterReport }).cluster;
  };

  beforeAll(async () => {
    pg = await startPostgres({ archivePrefix: ROOT, walSegmentSize: 64 * MIB });
    for (let round = 0; round < 3; round++) {
      await pg.primary.generateLoad(500);
      const completed = await pg.primary.switchWal();
      await pg.primary.waitForArchived(completed, 60_000);
      switched.push(completed);
    }
    dataDir = await mkdtemp(join(tmpdir(), 'walwatch-header-'));
    monitor = await startLocalMonitor({
      dataDir,
      archiveDir: pg.bucketDir,
      host: '127.0.0.1',
      port: 0,
      segmentSize: 'auto',
      readContent: { default: 'off', clusters: [] },
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
    });
    if (!available) return;
    [moto, dynamo] = await Promise.all([startMoto(), startDynalite()]);
    queues = await createNotifiedBucket(moto, BUCKET, { maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
    Object.assign(process.env, {
      WALWATCH_ARCHIVE_BUCKET: BUCKET,
      WALWATCH_TABLE_NAME: dynamo.table,
      WALWATCH_READ_CONTENT: 'off',
      AWS_ENDPOINT_URL_S3: moto.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_REGION: 'eu-central-1',
      AWS_ACCESS_KEY_ID: 'walwatch',
      AWS_SECRET_ACCESS_KEY: 'walwatch',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    handler = (await import('../../functions/ingest.js')).handler as unknown as SqsHandler;
  }, 240_000);

  afterAll(async () => {
    await monitor?.stop();
    await Promise.all([moto?.stop(), dynamo?.stop(), pg?.stop()]);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const expectDetected = (report: ClusterReport): void => {
    expect(report).toMatchObject({
      segmentSize: 64 * MIB,
      segmentSizeSource: 'page-header',
      headSegment: switched.at(-1),
      gaps: [],
    });
    expect(report.timelines).toEqual([
      expect.objectContaining({ id: 1, lastSegment: switched.at(-1), segments: expect.any(Number) }),
    ]);
    expect(report.problems.map((problem) => problem.kind)).not.toContain('segment-size-assumed');
    expect(report.problems.filter((problem) => problem.severity !== 'info')).toEqual([
      expect.objectContaining({ kind: 'no-restorable-backup' }),
    ]);
  };

  it('the local monitor reads 64 MiB from a page header of the folder archive', async () => {
    expectDetected(await monitorReport());
  });

  it.skipIf(!available)('the ingest Lambda reads 64 MiB from a page header of a bucket', async () => {
    await ingest();
    expectDetected(await pipelineReport());
  });

  describe('after the first backup', () => {
    let backup: BaseBackupFacts;
    beforeAll(async () => {
      backup = await pg.primary.takeBaseBackup();
      const completed = await pg.primary.switchWal();
      await pg.primary.waitForArchived(completed, 60_000);
      switched.push(completed);
    }, 120_000);

    const expectBackup = (report: ClusterReport): void => {
      expect(report.segmentSize).toBe(64 * MIB);
      expect(report.problems.map((problem) => problem.kind)).not.toContain('segment-size-mismatch');
      expect(report.backups).toEqual([
        expect.objectContaining({
          name: backup.name,
          status: 'restorable',
          startLsn: backup.startLsn,
          finishLsn: backup.finishLsn,
        }),
      ]);
      expect(report.latestRecoverable?.segment).toBe(switched.at(-1));
    };

    it('the local monitor reports the backup with the LSNs PostgreSQL gave', async () => {
      expectBackup(await monitorReport());
    });

    it.skipIf(!available)('the ingest Lambda reports the backup with the LSNs PostgreSQL gave', async () => {
      await ingest();
      expectBackup(await pipelineReport());
    });
  });
});
