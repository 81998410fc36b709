/**
 * The ingest Lambda reading chain ends: objects written to moto's S3, real bucket notifications through
 * SQS, the handler invoked as Lambda's event source does, states in dynalite. No sweeper runs here: the
 * exact last commit time must follow each batch. `WALWATCH_READ_CONTENT` turns one cluster off, and a
 * cluster whose segments are not WAL loses no message. No segment size is configured: it is learnt.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../shared/config/env.js';
import { analyzeCluster } from '../../shared/core/analyze.js';
import { formatLsn, segmentStartLsn, walFileName } from '../../shared/core/lsn.js';
import { getClusterState } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { stubLocalAwsEnv } from '../support/local-aws-env.js';
import {
  createNotifiedBucket,
  type LocalMoto,
  motoAvailable,
  type NotifiedBucket,
  queuedMessages,
  startMoto,
} from '../support/moto.js';
import { pollQueue, type SqsHandler } from '../support/sqs-poller.js';
import { buildCommitSegment } from '../support/wal-builder.js';

const BUCKET = 'walwatch-ingest-content';
const SEGMENT_SIZE = 1024 * 1024;
const SYSTEM_ID = 7_400_000_000_000_000_003n;
const BUSY = 'spilo/busy/wal/15';
const QUIET = 'spilo/quiet/wal/15';
const GARBAGE = 'spilo/garbage/wal/15';
/** Commit time of segment `segno`: one minute apart, with milliseconds, in the past. */
const commitTime = (segno: number): number => Date.parse('2026-11-20T08:00:00.250Z') + segno * 60_000;
/** The reader's rendering of a commit time: microseconds. */
const rendered = (time: number): string => new Date(time).toISOString().replace(/Z$/, '000Z');

describe.skipIf(!motoAvailable())('ingest handler reading the chain ends of each batch', () => {
  let moto: LocalMoto;
  let dynamo: LocalDynamo;
  let queues: NotifiedBucket;
  let handler: SqsHandler;
  const logLines: string[] = [];

  beforeAll(async () => {
    [moto, dynamo] = await Promise.all([startMoto(), startDynalite('walwatch-ingest-content')]);
    queues = await createNotifiedBucket(moto, BUCKET, { maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
    vi.stubEnv(ENV.archiveBucketName, BUCKET);
    vi.stubEnv(ENV.tableName, dynamo.table);
    // No size configured: each cluster's 1 MiB segments are learnt from its sentinel.
    vi.stubEnv(ENV.segmentSize, 'auto');
    vi.stubEnv(ENV.readContent, `chain-ends; off=spilo/quiet/*`);
    stubLocalAwsEnv({ dynamo, moto });
    // Powertools writes JSON log lines to stdout and stderr (warnings); keep them for assertions.
    for (const stream of [process.stdout, process.stderr])
      vi.spyOn(stream, 'write').mockImplementation((chunk) => {
        logLines.push(String(chunk));
        return true;
      });
    handler = (await import('../../functions/ingest.js')).handler as unknown as SqsHandler;
  }, 60_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await Promise.all([moto?.stop(), dynamo?.stop()]);
  });

  async function put(key: string, body: Uint8Array | string): Promise<void> {
    await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  }

  /** A backup of segment 1 consistent in segment 2, then segments 1…`last`. */
  async function archive(cluster: string, last: number, body: (segno: number) => Uint8Array): Promise<void> {
    await put(
      `${cluster}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
      JSON.stringify({ LSN: SEGMENT_SIZE + 40, FinishLSN: 2 * SEGMENT_SIZE + 80 }),
    );
    for (let segno = 1; segno <= last; segno++)
      await put(`${cluster}/wal_005/${walFileName(1, segno, SEGMENT_SIZE)}`, body(segno));
  }

  async function drain(): Promise<{ failedItems: number }> {
    return pollQueue(moto.sqs, queues.queueUrl, handler, {
      timeoutMs: 30_000,
      done: async () => (await queuedMessages(moto, queues.queueUrl)) === 0,
    });
  }

  const walSegment = (segno: number) => buildCommitSegment(segno, SEGMENT_SIZE, SYSTEM_ID, commitTime(segno));

  it('keeps the exact last commit of the chain end after every batch, and follows it as WAL arrives', async () => {
    await archive(BUSY, 5, walSegment);
    expect((await drain()).failedItems).toBe(0);
    const first = await getClusterState(dynamo.db, dynamo.table, BUSY);
    const commitLsn = (segno: number) => formatLsn(segmentStartLsn(segno, SEGMENT_SIZE) + 40n);
    expect(first?.state.commits).toEqual({
      '1:5': { lastCommitTime: rendered(commitTime(5)), lastCommitLsn: commitLsn(5) },
    });
    const report = analyzeCluster(first?.state as NonNullable<typeof first>['state'], { now: Date.now() });
    expect(report).toMatchObject({ segmentSize: SEGMENT_SIZE, segmentSizeSource: 'sentinel' });
    expect(report.latestRecoverable).toMatchObject({
      lastCommitTime: rendered(commitTime(5)),
      lastCommitLsn: commitLsn(5),
    });

    await put(`${BUSY}/wal_005/${walFileName(1, 6, SEGMENT_SIZE)}`, walSegment(6));
    expect((await drain()).failedItems).toBe(0);
    const next = await getClusterState(dynamo.db, dynamo.table, BUSY);
    expect(next?.state.commits).toEqual({
      '1:6': { lastCommitTime: rendered(commitTime(6)), lastCommitLsn: commitLsn(6) },
    });
  }, 60_000);

  it('reads nothing for a cluster the content policy turns off', async () => {
    await archive(QUIET, 4, walSegment);
    expect((await drain()).failedItems).toBe(0);
    const stored = await getClusterState(dynamo.db, dynamo.table, QUIET);
    expect(stored?.state.segments).toBeDefined();
    expect(stored?.state.commits ?? {}).toEqual({});
    const report = analyzeCluster(stored?.state as NonNullable<typeof stored>['state'], { now: Date.now() });
    expect(report.latestRecoverable?.segment).toBe(walFileName(1, 4, SEGMENT_SIZE));
    expect(report.latestRecoverable?.lastCommitTime ?? null).toBeNull();
  }, 60_000);

  it('folds every event of a cluster whose segments are not WAL and says why no commit time is known', async () => {
    await archive(GARBAGE, 3, () => new TextEncoder().encode('not WAL at all'));
    expect((await drain()).failedItems).toBe(0);
    expect(await queuedMessages(moto, queues.deadLetterQueueUrl)).toBe(0);
    const stored = await getClusterState(dynamo.db, dynamo.table, GARBAGE);
    expect(stored?.state.commits).toEqual({ '1:3': null });
    const warning = logLines
      .filter((line) => line.includes('segment content unreadable'))
      .map((line) => JSON.parse(line) as { clusterId?: string; errors?: string[] })
      .find((entry) => entry.clusterId === GARBAGE);
    expect(warning?.errors?.join(' ')).toContain(walFileName(1, 3, SEGMENT_SIZE));
  }, 60_000);
});
