/**
 * The ingest Lambda end to end on local servers: objects written to moto's S3, real bucket notifications
 * to an SQS queue with a dead-letter queue, a poller invoking the handler as Lambda's event source does,
 * and the state in dynalite.
 */
import { brotliCompressSync } from 'node:zlib';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../shared/core/analyze.js';
import { parseObjectKey } from '../../shared/core/keys.js';
import type { ClusterReport } from '../../shared/core/report.js';
import { buildClusterStates } from '../../shared/core/state.js';
import { listObjectsAfter, readArchiveDocument } from '../../shared/events/s3-objects.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { generateArchive, SEGMENT_SIZE } from '../support/generated-archive.js';
import {
  createNotifiedBucket,
  type LocalMoto,
  motoAvailable,
  type NotifiedBucket,
  queuedMessages,
  startMoto,
} from '../support/moto.js';
import { pollQueue, type SqsHandler } from '../support/sqs-poller.js';

const BUCKET = 'walwatch-archive';
const available = motoAvailable();

let moto: LocalMoto;
let dynamo: LocalDynamo;
let queues: NotifiedBucket;
let handler: SqsHandler;
const output: string[] = [];

beforeAll(async () => {
  if (!available) return;
  [moto, dynamo] = await Promise.all([startMoto(), startDynalite()]);
  queues = await createNotifiedBucket(moto, BUCKET, { maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
  Object.assign(process.env, {
    WALWATCH_ARCHIVE_BUCKET: BUCKET,
    WALWATCH_TABLE_NAME: dynamo.table,
    AWS_ENDPOINT_URL_S3: moto.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: 'eu-central-1',
    AWS_ACCESS_KEY_ID: 'walwatch',
    AWS_SECRET_ACCESS_KEY: 'walwatch',
  });
  // Logs and metrics go to stdout/stderr as in Lambda; keep the JSON lines for assertions instead of printing them.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk);
      if (text.startsWith('{')) {
        output.push(text);
        return true;
      }
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
  handler = (await import('../../functions/ingest.js')).handler as unknown as SqsHandler;
});

afterAll(async () => {
  await Promise.all([moto?.stop(), dynamo?.stop()]);
});

const queueDepth = (queueUrl: string): Promise<number> => queuedMessages(moto, queueUrl);

/** Runs the event source until the queue is empty. */
async function drain(): Promise<void> {
  await pollQueue(moto.sqs, queues.queueUrl, handler, {
    timeoutMs: 30_000,
    done: async () => (await queueDepth(queues.queueUrl)) === 0,
  });
}

async function put(key: string, body: Uint8Array | string): Promise<void> {
  await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

/** The report of a full listing of the bucket: `walwatch analyze` of the same objects. */
async function analyzeListing(clusterId: string, now: number): Promise<ClusterReport> {
  const objects = [];
  const contents = new Map<string, { text: string } | { error: string }>();
  for await (const event of listObjectsAfter(moto.s3, BUCKET, '')) {
    objects.push({ key: event.key, at: event.at, size: event.size ?? null, etag: event.etag ?? null });
    const parsed = parseObjectKey(event.key);
    if (parsed && ['sentinel', 'backup-metadata', 'history'].includes(parsed.object.kind)) {
      const compression = 'compression' in parsed.object ? parsed.object.compression : 'none';
      contents.set(event.key, await readArchiveDocument(moto.s3, BUCKET, event.key, compression));
    }
  }
  const state = buildClusterStates(
    objects,
    (key) => contents.get(key),
    () => SEGMENT_SIZE,
  ).get(clusterId);
  if (!state) throw new Error(`no cluster ${clusterId} in the listing`);
  return analyzeCluster(state, { now });
}

async function storedReport(clusterId: string, now: number): Promise<ClusterReport> {
  const stored = await getClusterStateWithParts(dynamo.db, dynamo.table, clusterId);
  if (!stored) throw new Error(`no state stored for ${clusterId}`);
  return analyzeCluster(stored.state, { now });
}

/** The verdicts of a report, without times (events and listings time objects at different precisions). */
function verdicts(report: ClusterReport) {
  return {
    status: report.status,
    targetTimeline: report.targetTimeline,
    timelines: report.timelines,
    backups: report.backups.map((backup) => [backup.name, backup.status, backup.finishLsn]),
    gaps: report.gaps.map((gap) => [gap.firstSegment, gap.lastSegment, gap.count]),
    latest: [report.latestRecoverable?.segment, report.latestRecoverable?.lsn],
    earliest: report.earliestRecoverable?.lsn,
    head: report.headSegment,
    problems: report.problems.map((problem) => [problem.kind, problem.subject]).sort(),
  };
}

describe.skipIf(!available)('ingest handler on S3 notifications through SQS', () => {
  it('folds every stored and removed object into what a full listing of the bucket says', async () => {
    const clusters = ['spilo/superman/wal/15', 'spilo/ümlaut scope+x/wal/16'];
    const archive = generateArchive(11, { clusters, segments: 14, timelineSwitch: true });
    for (const event of archive.events) {
      if (event.type === 'removed')
        await moto.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: event.key }));
      else await put(event.key, archive.bodies.get(event.key) ?? `segment ${event.key}`);
    }
    await drain();
    const now = Date.now();
    for (const clusterId of clusters) {
      const stored = await storedReport(clusterId, now);
      expect(verdicts(stored)).toEqual(verdicts(await analyzeListing(clusterId, now)));
      expect(stored.latestRecoverable?.segment).toBeDefined();
    }
  });

  it('reports a removed needed segment as wal-deleted and a re-stored one with other content as wal-overwritten', async () => {
    const root = 'spilo/deleted/wal/15';
    const segment = (n: number) => `${root}/wal_005/00000001000000000000000${n}.lz4`;
    for (const n of [1, 2, 3, 4, 5]) await put(segment(n), `segment ${n} of the archive`);
    await put(
      `${root}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
      `{"LSN":${SEGMENT_SIZE + 40},"FinishLSN":${2 * SEGMENT_SIZE + 80}}`,
    );
    await drain();
    await moto.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: segment(3) }));
    await put(segment(4), 'other content of segment 4');
    await drain();

    const report = await storedReport(root, Date.now());
    const problems = report.problems.map((problem) => problem.kind);
    expect(problems).toContain('wal-deleted');
    expect(problems).toContain('wal-overwritten');
    expect(report.latestRecoverable?.segment).toBe('000000010000000000000002');
  });

  it('records a corrupt lz4 history, a garbage sentinel, a 1024-byte key and a key outside any archive as facts, not failures', async () => {
    const root = 'spilo/bad-documents/wal/15';
    await put(`${root}/wal_005/000000010000000000000001.lz4`, 'segment 1');
    await put(`${root}/wal_005/000000020000000000000002.lz4`, 'segment 2 on timeline 2');
    await put(
      `${root}/wal_005/00000002.history.lz4`,
      new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 1]),
    );
    await put(
      `${root}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
      '\u0000garbage{',
    );
    const longRoot = `spilo/${'l'.repeat(1024 - 'spilo//wal/15/wal_005/000000010000000000000001.br'.length)}/wal/15`;
    const longKey = `${longRoot}/wal_005/000000010000000000000001.br`;
    expect(new TextEncoder().encode(longKey).byteLength).toBe(1024);
    await put(longKey, brotliCompressSync('segment'));
    await put('exports/not-an-archive/readme.txt', 'outside any archive');
    await drain();

    const report = await storedReport(root, Date.now());
    expect(report.problems.map((problem) => problem.kind)).toEqual(
      expect.arrayContaining(['history-invalid', 'sentinel-invalid']),
    );
    const state = (await getClusterStateWithParts(dynamo.db, dynamo.table, root))?.state;
    expect(state?.histories['wal_005/00000002.history.lz4']?.parse).toMatchObject({ ok: false });
    expect((await getClusterStateWithParts(dynamo.db, dynamo.table, longRoot))?.state.segments).toEqual({
      '1': [[1, 1]],
    });
    const lines = output.join('\n');
    expect(lines).toMatch(/"outsideArchive":\s*1/);
    expect(lines).toMatch(/"unreadableDocuments":\s*1/);
    expect(lines).toMatch(/"invalidDocuments":\s*1/);
    expect(lines).toContain('unreadable-document: reported as a problem of its cluster');
    expect(lines).toContain('invalid-document: reported as a problem of its cluster');
    expect(lines).toContain('exports/not-an-archive/readme.txt');
  });

  it('fails bad messages alone: they reach the dead-letter queue while the batch’s valid events are folded', async () => {
    const root = 'spilo/poison/wal/15';
    const send = (body: string) =>
      moto.sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: body }));
    await send('{"Records": [ not json');
    await send(JSON.stringify({ hello: 'not an S3 event' }));
    await send(
      JSON.stringify({
        Records: [
          {
            eventSource: 'aws:s3',
            eventName: 'ObjectCreated:Put',
            eventTime: '2026-11-24T10:00:00.000Z',
            s3: { bucket: { name: 'someone-elses-bucket' }, object: { key: `${root}/wal_005/x`, size: 1 } },
          },
        ],
      }),
    );
    await put(`${root}/wal_005/000000010000000000000001.lz4`, 'segment 1');
    await pollQueue(moto.sqs, queues.queueUrl, handler, {
      timeoutMs: 30_000,
      done: async () =>
        (await queueDepth(queues.deadLetterQueueUrl)) === 3 && (await queueDepth(queues.queueUrl)) === 0,
    });

    expect((await getClusterStateWithParts(dynamo.db, dynamo.table, root))?.state.segments).toEqual({
      '1': [[1, 1]],
    });
    const lines = output.join('\n');
    expect(lines).toContain('body is not JSON');
    expect(lines).toContain('no Records array: not an S3 event notification');
    expect(lines).toContain('someone-elses-bucket');
    expect(lines).toMatch(/"invalidMessages":\s*\d/);
  });
});
