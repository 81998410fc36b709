/**
 * Keys longer than any S3 key: a folder or a forged notification can name them, and the table cannot hold
 * items keyed by them. They never stop the other events of their batch — against dynalite (which, like
 * DynamoDB, rejects a partition key over 2,048 bytes: it counts characters where DynamoDB counts UTF-8
 * bytes, so the keys here are ASCII) and through the local monitor's folder watcher and webhook.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../shared/core/analyze.js';
import type { ObjectEvent } from '../../shared/core/facts.js';
import { walFileName } from '../../shared/core/lsn.js';
import { ingestMessages } from '../../shared/events/ingest-messages.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import type { FoldDependencies } from '../../shared/store/fold-events.js';
import { MAX_CLUSTER_ID_BYTES, objectFactKey } from '../../shared/store/table.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { notificationBody } from '../support/s3-notification-body.js';

const BUCKET = 'archive';
const SEGMENT_SIZE = 16 * 1024 * 1024;
const GOOD = 'spilo/good/wal/15';
const AT = 1_800_000_000_000;
/** A file name of 2,100 characters in a cluster with a short id: no S3 key is that long. */
const LONG_UNKNOWN = `spilo/long/wal/15/wal_005/${'x'.repeat(2100)}`;
/** A segment of a cluster whose id alone exceeds every key limit of the table. */
const LONG_CLUSTER = `spilo/${'c'.repeat(2100)}/wal/15`;

const event = (key: string, type: ObjectEvent['type'] = 'created', at = AT): ObjectEvent => ({
  key,
  type,
  at,
  ...(type === 'created' ? { size: SEGMENT_SIZE, etag: 'e1' } : {}),
  sequencer: type === 'created' ? '01' : '02',
});

describe('ingestMessages with keys the table cannot hold by name', () => {
  let dynamo: LocalDynamo;
  let deps: FoldDependencies;

  beforeAll(async () => {
    dynamo = await startDynalite();
    deps = {
      db: dynamo.db,
      table: dynamo.table,
      segmentSizeOf: () => SEGMENT_SIZE,
      readDocument: async () => ({ error: 'no documents here' }),
    };
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('folds every other event of the batch, keeps an over-long key under a hashed id and skips an over-long cluster', async () => {
    expect(objectFactKey(LONG_UNKNOWN)).toMatch(/^h#[0-9a-f]{64}$/);
    const report = await ingestMessages(deps, BUCKET, [
      {
        messageId: 'good',
        body: notificationBody(BUCKET, event(`${GOOD}/wal_005/${walFileName(1, 1, SEGMENT_SIZE)}`)),
      },
      { messageId: 'long-key', body: notificationBody(BUCKET, event(LONG_UNKNOWN)) },
      {
        messageId: 'long-cluster',
        body: notificationBody(BUCKET, event(`${LONG_CLUSTER}/wal_005/${walFileName(1, 2, SEGMENT_SIZE)}`)),
      },
    ]);
    expect(report.failures).toEqual([]);
    expect(report.counts).toMatchObject({ events: 3, changed: 2, unstorableKeys: 1 });
    expect(report.notes).toContainEqual(
      expect.objectContaining({
        kind: 'unstorable-key',
        reason: `its archive root is longer than ${MAX_CLUSTER_ID_BYTES} bytes`,
      }),
    );
    expect(report.clusters).toEqual([GOOD, 'spilo/long/wal/15']);

    const good = await getClusterStateWithParts(dynamo.db, dynamo.table, GOOD);
    expect(analyzeCluster(good?.state as never, { now: AT }).headSegment).toBe(
      walFileName(1, 1, SEGMENT_SIZE),
    );
    const long = await getClusterStateWithParts(dynamo.db, dynamo.table, 'spilo/long/wal/15');
    const problems = analyzeCluster(long?.state as never, { now: AT }).problems;
    expect(problems).toContainEqual(expect.objectContaining({ kind: 'unknown-objects', subject: '1' }));

    // The hashed item is the key's item: its removal is folded like any other.
    const removal = await ingestMessages(deps, BUCKET, [
      { messageId: 'gone', body: notificationBody(BUCKET, event(LONG_UNKNOWN, 'removed', AT + 1000)) },
    ]);
    expect(removal.failures).toEqual([]);
    const after = await getClusterStateWithParts(dynamo.db, dynamo.table, 'spilo/long/wal/15');
    expect(
      analyzeCluster(after?.state as never, { now: AT }).problems.map((problem) => problem.kind),
    ).not.toContain('unknown-objects');
  });
});

describe('the local monitor with keys longer than S3 allows', () => {
  let root: string;
  const monitors: LocalMonitor[] = [];
  const lines: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-long-keys-'));
  });
  afterAll(async () => {
    for (const monitor of monitors) await monitor.stop();
    await rm(root, { recursive: true, force: true });
  });

  const write = async (archive: string, key: string): Promise<void> => {
    await mkdir(dirname(join(archive, key)), { recursive: true });
    await writeFile(join(archive, key), new Uint8Array(SEGMENT_SIZE));
  };

  it('folds a folder holding a 2,100-byte path as a backup part, beside the other files', async () => {
    const archive = join(root, 'archive');
    const backup = 'base_000000010000000000000001';
    // Folder names of at most 255 bytes, as file systems require; the whole path is longer than 2,048 bytes.
    const deep = Array.from({ length: 9 }, (_, i) => `${String(i)}${'d'.repeat(239)}`).join('/');
    const longPart = `${GOOD}/basebackups_005/${backup}/tar_partitions/${deep}/part_1.tar.lz4`;
    expect(longPart.length).toBeGreaterThan(2100);
    await write(archive, longPart);
    await write(archive, `${GOOD}/wal_005/${walFileName(1, 1, SEGMENT_SIZE)}`);
    const longRoot = `spilo/${Array.from({ length: 9 }, () => 'c'.repeat(250)).join('/')}/wal/15`;
    await write(archive, `${longRoot}/wal_005/${walFileName(1, 1, SEGMENT_SIZE)}`);
    const monitor = await startLocalMonitor({
      dataDir: join(root, 'folder-data'),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: SEGMENT_SIZE,
      sweepIntervalMs: 3_600_000,
      log: (line) => lines.push(line),
    });
    monitors.push(monitor);
    await monitor.syncNow();
    expect(lines.filter((line) => line.includes('could not fold'))).toEqual([]);
    expect(lines.filter((line) => line.includes('ignored'))).toHaveLength(1);
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(GOOD)}`);
    expect(response.status).toBe(200);
    const { cluster } = (await response.json()) as {
      cluster: { headSegment: string; backups: { name: string; status: string }[] };
    };
    expect(cluster.headSegment).toBe(walFileName(1, 1, SEGMENT_SIZE));
    expect(cluster.backups.map((b) => [b.name, b.status])).toEqual([[backup, 'in-progress']]);
  });

  it('answers 400 at the webhook for a key longer than 1,024 bytes and folds the next notification', async () => {
    const monitor = await startLocalMonitor({
      dataDir: join(root, 'webhook-data'),
      // Nothing listens there: the bucket listing fails and is logged; the webhook needs no bucket.
      bucket: { name: BUCKET, prefix: '', endpoint: 'http://127.0.0.1:9', forcePathStyle: true },
      webhookSecret: 's3cr3t',
      host: '127.0.0.1',
      port: 0,
      segmentSize: SEGMENT_SIZE,
      sweepIntervalMs: 3_600_000,
      readContent: { default: 'off', clusters: [] },
      log: (line) => lines.push(line),
    });
    monitors.push(monitor);
    const post = (body: string) =>
      fetch(`${monitor.url}/webhook/s3`, {
        method: 'POST',
        headers: { authorization: 'Bearer s3cr3t', 'content-type': 'application/json' },
        body,
      });
    const longKey = `${GOOD}/wal_005/${'é'.repeat(600)}`;
    const refused = await post(notificationBody(BUCKET, event(longKey)));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: {
        code: 'bad-request',
        message: `a key of ${Buffer.byteLength(longKey)} bytes: S3 keys have at most 1024`,
      },
    });
    const accepted = await post(
      notificationBody(BUCKET, event(`${GOOD}/wal_005/${walFileName(1, 3, SEGMENT_SIZE)}`)),
    );
    expect(accepted.status).toBe(200);
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(GOOD)}`);
    const { cluster } = (await response.json()) as { cluster: { headSegment: string; problems: unknown[] } };
    expect(cluster.headSegment).toBe(walFileName(1, 3, SEGMENT_SIZE));
    expect(JSON.stringify(cluster.problems)).not.toContain('unknown-objects');
  });
});
