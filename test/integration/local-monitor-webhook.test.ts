/**
 * `POST /webhook/s3` with MinIO's notification bodies: the archive in moto's S3 (S3's API, which MinIO
 * speaks too; no MinIO runs here), each object announced only by a webhook body shaped exactly as MinIO's
 * webhook target sends it, the listing turned off. Created and removed events fold like the queue's; the
 * answers never say 200 for a record that was not folded; the secret is accepted only as a bearer header;
 * bodies are JSON and capped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseContentPolicy } from '../../shared/config/content-policy.js';
import type { ClusterReport } from '../../shared/core/report.js';
import {
  type LocalMonitor,
  MAX_WEBHOOK_BODY_BYTES,
  startLocalMonitor,
} from '../../shared/local/local-monitor.js';
import { analyzeArchive } from '../../shared/sources/analyze-archive.js';
import { openS3Source } from '../../shared/sources/s3-source.js';
import { generateArchive } from '../support/archive-generator.js';
import { type LocalMoto, MOTO_CREDENTIALS, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';
import { rawRequest, streamUntilAnswered } from '../support/raw-http.js';
import { minioWebhookBody } from '../support/s3-notification-body.js';

const BUCKET = 'wal-minio';
const SECRET = 's3cr3t';
const CLUSTER = 'spilo/hooked/wal/15';
const SEGMENT_SIZE = 16 * 1024 * 1024;

describe.runIf(motoAvailable())('walwatch serve --webhook-secret with MinIO notifications', () => {
  let moto: LocalMoto;
  let root: string;
  let monitor: LocalMonitor;
  const start = (name: string) =>
    startLocalMonitor({
      dataDir: join(root, name),
      bucket: { name: BUCKET, prefix: '', endpoint: moto.endpoint, forcePathStyle: true },
      webhookSecret: SECRET,
      host: '127.0.0.1',
      port: 0,
      segmentSize: SEGMENT_SIZE,
      readContent: parseContentPolicy('off', '--content'),
      sweepIntervalMs: 3_600_000,
      // Only webhook bodies tell the monitor about objects.
      listIntervalMs: 3_600_000,
      log: () => undefined,
    });
  const post = (body: string, headers: Record<string, string> = {}, path = '/webhook/s3') =>
    rawRequest(monitor.url, {
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json', ...headers },
      body,
    });
  const report = async (): Promise<ClusterReport | undefined> => {
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(CLUSTER)}`);
    return response.status === 200
      ? ((await response.json()) as { cluster: ClusterReport }).cluster
      : undefined;
  };

  beforeAll(async () => {
    moto = await startMoto();
    vi.stubEnv('AWS_REGION', MOTO_REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', MOTO_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', MOTO_CREDENTIALS.secretAccessKey);
    await moto.s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: MOTO_REGION },
      }),
    );
    root = await mkdtemp(join(tmpdir(), 'walwatch-webhook-'));
    monitor = await start('monitor');
  }, 60_000);
  afterAll(async () => {
    await monitor?.stop();
    await moto?.stop();
    await rm(root, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it('folds s3:ObjectCreated:Put and s3:ObjectRemoved:Delete as a full listing reads the bucket', async () => {
    const objects = generateArchive({
      clusterId: CLUSTER,
      segmentSize: SEGMENT_SIZE,
      segments: 10,
      switches: [],
      backups: [1],
      startAt: Date.now() - 20 * 60_000,
    });
    for (const object of objects) {
      await moto.s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: object.key,
          Body: object.content ?? Buffer.alloc(object.size ?? 0, 0x5a),
        }),
      );
      const answer = await post(
        minioWebhookBody(BUCKET, {
          key: object.key,
          eventName: 's3:ObjectCreated:Put',
          at: Date.now(),
          size: object.size ?? 0,
        }),
      );
      expect(answer.status, answer.text).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ ok: true, folded: 1, ignored: [] });
    }
    const removed = `${CLUSTER}/wal_005/000000010000000000000006.lz4`;
    await moto.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: removed }));
    const deletion = await post(
      minioWebhookBody(BUCKET, { key: removed, eventName: 's3:ObjectRemoved:Delete', at: Date.now() }),
    );
    expect(deletion.status).toBe(200);

    const live = await report();
    const full = await analyzeArchive(openS3Source({ bucket: BUCKET, prefix: '' }, moto.s3), {
      now: Date.now(),
      segmentSizeOf: () => SEGMENT_SIZE,
    });
    const expected = full.clusters.find((cluster) => cluster.id === CLUSTER);
    expect(live?.latestRecoverable?.lsn).toBe(expected?.latestRecoverable?.lsn);
    expect(live?.gaps.map((gap) => gap.id)).toEqual(['000000010000000000000006-000000010000000000000006']);
    expect(live?.gaps.map((gap) => gap.id)).toEqual(expected?.gaps.map((gap) => gap.id));
    expect(live?.backups.map((b) => [b.name, b.status])).toEqual(
      expected?.backups.map((b) => [b.name, b.status]),
    );
  });

  it('answers 200 for event types that change no object, listing them as ignored', async () => {
    const answer = await post(
      minioWebhookBody(BUCKET, {
        key: `${CLUSTER}/wal_005/000000010000000000000002.lz4`,
        eventName: 's3:ObjectAccessed:Get',
        at: Date.now(),
      }),
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({
      ok: true,
      folded: 0,
      ignored: [{ eventName: 's3:ObjectAccessed:Get', reason: 'changes no archive object' }],
    });
  });

  it('answers 422 listing a record of another bucket, and folds nothing of it', async () => {
    const key = 'spilo/elsewhere/wal/15/wal_005/000000010000000000000001.lz4';
    const answer = await post(
      minioWebhookBody('other-bucket', { key, eventName: 's3:ObjectCreated:Put', at: Date.now() }),
    );
    expect(answer.status).toBe(422);
    expect(JSON.parse(answer.text)).toMatchObject({
      error: { code: 'events-dropped' },
      folded: 0,
      dropped: [
        {
          key,
          eventName: 's3:ObjectCreated:Put',
          reason: expect.stringContaining('other-bucket'),
          retry: false,
        },
      ],
    });
    const clusters = (await (await fetch(`${monitor.url}/clusters`)).json()) as {
      clusters: Array<{ id: string }>;
    };
    expect(clusters.clusters.map((cluster) => cluster.id)).toEqual([CLUSTER]);
  });

  it.each([
    [{ authorization: SECRET }, '', 401, 'the secret without Bearer'],
    [{ authorization: 'Bearer wrong' }, '', 401, 'a wrong secret'],
    [{ authorization: '' }, `?secret=${SECRET}`, 400, 'the secret in the URL'],
    [{}, `?secret=${SECRET}`, 400, 'the secret in the URL beside the header'],
    [{ 'content-type': 'text/plain' }, '', 415, 'a body that is not declared JSON'],
  ])('refuses %j%s with %i (%s)', async (headers, query, status, _why) => {
    const body = minioWebhookBody(BUCKET, {
      key: `${CLUSTER}/wal_005/000000010000000000000042.lz4`,
      eventName: 's3:ObjectCreated:Put',
      at: Date.now(),
      size: 1000,
    });
    const answer = await post(body, headers, `/webhook/s3${query}`);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.text)).toMatchObject({ error: { code: expect.any(String) } });
    expect((await report())?.timelines[0]?.lastSegment).not.toBe('000000010000000000000042');
  });

  it('answers 400 for a body that is no notification, and 413 for one beyond the cap', async () => {
    expect((await post('{"Records": [')).status).toBe(400);
    const oversized = await streamUntilAnswered(monitor.url, {
      path: '/webhook/s3',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    });
    expect(oversized.status).toBe(413);
    expect(oversized.sentBytes).toBeGreaterThan(MAX_WEBHOOK_BODY_BYTES);
  });

  it('answers 503 listing the records it could not fold when the store fails, so a sender retries', async () => {
    const broken = await start('broken');
    await broken.store.stop();
    try {
      const key = `${CLUSTER}/wal_005/000000010000000000000011.lz4`;
      const answer = await rawRequest(broken.url, {
        method: 'POST',
        path: '/webhook/s3',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
        body: minioWebhookBody(BUCKET, {
          key,
          eventName: 's3:ObjectCreated:Put',
          at: Date.now(),
          size: 1000,
        }),
      });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.text)).toMatchObject({
        error: { code: 'events-dropped' },
        folded: 0,
        dropped: [{ key, retry: true }],
      });
    } finally {
      await broken.stop();
    }
  }, 60_000);
});
