/**
 * The local monitor: the product on one machine. An embedded DynamoDB-API store, event sources that feed
 * the same fold as the ingest Lambda (a watched folder, an S3 bucket listed incrementally or notifying a
 * webhook, an SQS queue), the sweeper on a timer, and one HTTP server with the API routes, `/metrics`
 * and the dashboard.
 */
import { timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { refreshFleetRows } from '../api/fleet-summary.js';
import { loadAllReports } from '../api/reports.js';
import { createApiRouter } from '../api/router.js';
import { type DocumentRead, decodeDocument } from '../codec/document.js';
import { type ClusterSetting, settingFor } from '../config/cluster-setting.js';
import {
  type ContentPolicy,
  contentModeFor,
  DEFAULT_CONTENT_POLICY,
  widestContentMode,
} from '../config/content-policy.js';
import type { Thresholds } from '../core/config.js';
import { type Compression, parseObjectKey } from '../core/keys.js';
import type { ClusterState } from '../core/state.js';
import { ingestMessages } from '../events/ingest-messages.js';
import { reconcileArchive } from '../events/reconcile-archive.js';
import { parseNotification } from '../events/s3-notification.js';
import { readArchiveDocument } from '../events/s3-objects.js';
import { refreshChainCommits } from '../monitor/chain-content.js';
import { scanSegmentContent } from '../monitor/segment-scan.js';
import { sweep } from '../monitor/sweep.js';
import { openDirSource } from '../sources/dir-source.js';
import { createS3Client, openS3Source } from '../sources/s3-source.js';
import { getClusterState, putClusterState } from '../store/cluster-states.js';
import { type FoldDependencies, foldEvents } from '../store/fold-events.js';
import { createDynamoMonitorData } from '../store/monitor-items.js';
import { DirectoryWatcher } from './dir-watcher.js';
import { type EmbeddedStore, startEmbeddedStore } from './embedded-store.js';
import { renderPrometheus } from './prometheus.js';

/** Settings of the local monitor. */
export interface LocalMonitorOptions {
  /** Where the store and the watcher's snapshot live. */
  readonly dataDir: string;
  /** A folder used as a bucket (WAL-G's file storage). */
  readonly archiveDir?: string;
  /** An S3 bucket to list incrementally (and to accept webhook notifications for). */
  readonly bucket?: {
    readonly name: string;
    readonly prefix: string;
    readonly endpoint?: string;
    readonly forcePathStyle?: boolean;
  };
  /** An SQS queue receiving the bucket's S3 notifications. */
  readonly queueUrl?: string;
  readonly host: string;
  readonly port: number;
  /** WAL segment size in bytes of every cluster, or a default and overrides by cluster id pattern. */
  readonly segmentSize: number | ClusterSetting<number>;
  readonly thresholds?: Partial<Thresholds>;
  /** Sweeper period. @default 15 s */
  readonly sweepIntervalMs?: number;
  /** Bucket listing period. @default 60 s */
  readonly listIntervalMs?: number;
  /** Shared secret for `POST /webhook/s3` (MinIO-style notifications); the webhook is off without it. */
  readonly webhookSecret?: string;
  /** Alert destinations besides the console. */
  readonly alertWebhookUrl?: string;
  readonly alertTopicArn?: string;
  /** Which segment bodies to read, per cluster. @default chain ends of every cluster */
  readonly readContent?: ContentPolicy;
  /** Where alert lines and notices go. @default stderr */
  readonly log?: (line: string) => void;
}

/** A running local monitor. */
export interface LocalMonitor {
  readonly url: string;
  readonly store: EmbeddedStore;
  /** Scans the folder now and waits for the result (tests, demos). */
  syncNow(): Promise<void>;
  /** Runs one sweep now. */
  sweepNow(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the local monitor. */
export async function startLocalMonitor(options: LocalMonitorOptions): Promise<LocalMonitor> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = await startEmbeddedStore({ dataDir: join(options.dataDir, 'store') });
  const data = createDynamoMonitorData(store.db, store.table);
  const s3 = options.bucket
    ? createS3Client({
        ...(options.bucket.endpoint ? { endpoint: options.bucket.endpoint } : {}),
        ...(options.bucket.forcePathStyle ? { forcePathStyle: true } : {}),
      })
    : undefined;
  const segmentSizes: ClusterSetting<number> =
    typeof options.segmentSize === 'number'
      ? { default: options.segmentSize, clusters: [] }
      : options.segmentSize;
  const fold: FoldDependencies = {
    db: store.db,
    table: store.table,
    segmentSizeOf: (clusterId) => settingFor(segmentSizes, clusterId),
    readDocument: (key, compression) =>
      s3 && options.bucket
        ? readArchiveDocument(s3, options.bucket.name, key, compression)
        : readLocalDocument(options.archiveDir as string, key, compression),
  };
  const contentSource =
    s3 && options.bucket
      ? openS3Source({ bucket: options.bucket.name, prefix: '' }, s3)
      : options.archiveDir
        ? await openDirSource(await ensureFolder(options.archiveDir))
        : undefined;
  const contentPolicy = options.readContent ?? DEFAULT_CONTENT_POLICY;
  const content =
    contentSource && widestContentMode(contentPolicy) !== 'off'
      ? {
          getState: (id: string) => getClusterState(store.db, store.table, id),
          putState: (state: ClusterState, ver: number) => putClusterState(store.db, store.table, state, ver),
          source: contentSource,
          now: Date.now,
        }
      : undefined;
  /** The content steps of one cluster: chain-end commits, then (mode `all`) the segment scan. */
  const readContent = async (clusterId: string, steps: 'chain-ends' | 'scan' | 'both' = 'both') => {
    const mode = contentModeFor(contentPolicy, clusterId);
    if (!content || mode === 'off') return;
    if (steps !== 'scan') await refreshChainCommits(content, clusterId);
    if (mode !== 'all' || steps === 'chain-ends') return;
    const scan = await scanSegmentContent({ ...content, db: store.db, table: store.table }, clusterId, {
      maxReads: 256,
    });
    for (const name of scan.defects)
      log(
        `walwatch: ${clusterId}: ${name} cannot be read to its end by recovery (GET /clusters/…/segments/${name})`,
      );
    for (const error of scan.errors) log(`walwatch: ${clusterId}: segment content unreadable: ${error}`);
  };
  const ingest = async (events: Parameters<typeof foldEvents>[1][number]['event'][]): Promise<void> => {
    const result = await foldEvents(
      fold,
      events.map((event, index) => ({ id: String(index), event })),
    );
    for (const [, error] of result.failures) log(`walwatch: could not fold an event: ${error.message}`);
    const clusters = new Set(
      events.map((event) => parseObjectKey(event.key)?.clusterId).filter((id) => id !== undefined),
    );
    // Exact commit times follow the chain ends right away, not only at the next sweep.
    if (content) for (const id of clusters) await readContent(id);
    // The fleet list follows each batch at once; the sweeper settles the alerts on its next run.
    await refreshFleetRows(data, clusters, Date.now(), options.thresholds);
  };

  const watcher = options.archiveDir
    ? new DirectoryWatcher({
        root: options.archiveDir,
        snapshotFile: join(options.dataDir, 'store', 'folder-scan.json'),
        onEvents: ingest,
        onError: (error) => log(`walwatch: folder watch: ${(error as Error).message}`),
      })
    : undefined;
  await watcher?.start();

  const timers: NodeJS.Timeout[] = [];
  let listing: Promise<unknown> = Promise.resolve();
  if (s3 && options.bucket) {
    const bucket = options.bucket;
    const list = (): void => {
      listing = listing
        .then(() =>
          reconcileArchive(
            { ...fold, s3, bucket: bucket.name },
            bucket.prefix ? { roots: [bucket.prefix.replace(/\/$/, '')] } : {},
          ),
        )
        .catch((error) =>
          log(`walwatch: listing s3://${bucket.name}/${bucket.prefix}: ${(error as Error).message}`),
        );
    };
    list();
    timers.push(setInterval(list, options.listIntervalMs ?? 60_000));
  }
  const queue =
    options.queueUrl && options.bucket
      ? startQueuePoller(options.queueUrl, options.bucket.name, fold, log, async (clusters) => {
          for (const id of clusters) await readContent(id);
          await refreshFleetRows(data, clusters, Date.now(), options.thresholds);
        })
      : undefined;

  const sns = options.alertTopicArn ? new SNSClient({}) : undefined;
  let sweeping: Promise<unknown> = Promise.resolve();
  const runSweep = (): Promise<unknown> => {
    sweeping = sweeping
      .then(() =>
        sweep({
          data,
          now: Date.now,
          // Only the clusters due: changed since the last sweep, or at a threshold crossing.
          beforeAnalysis: async (due, all) => {
            if (!content) return;
            for (const id of due) await readContent(id, 'chain-ends');
            // A scan reads at most 256 segments a run: its backlog goes on whether the cluster is due or not.
            for (const id of all) await readContent(id, 'scan');
          },
          emitMetrics: () => undefined,
          ...(options.thresholds ? { thresholds: options.thresholds } : {}),
          apiUrl: url,
          publish: async (notification) => {
            log(`walwatch alert: ${notification.subject}\n${notification.body.replace(/^/gm, '  ')}`);
            if (options.alertWebhookUrl) {
              const response = await fetch(options.alertWebhookUrl, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify(notification),
              });
              if (!response.ok) throw new Error(`alert webhook answered ${response.status}`);
            }
            if (sns)
              await sns.send(
                new PublishCommand({
                  TopicArn: options.alertTopicArn,
                  Subject: notification.subject,
                  Message: notification.body,
                }),
              );
          },
        }),
      )
      .catch((error) => log(`walwatch: sweep failed: ${(error as Error).message}`));
    return sweeping;
  };

  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/metrics', async (c) => {
    const reports = await loadAllReports(data, Date.now(), options.thresholds);
    return c.body(renderPrometheus(reports), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });
  app.post('/webhook/s3', async (c) => {
    if (!options.webhookSecret || !options.bucket)
      return c.json({ error: { code: 'not-found', message: 'webhook not enabled' } }, 404);
    const given = c.req.header('authorization')?.replace(/^Bearer /, '') ?? c.req.query('secret') ?? '';
    if (!safeEqual(given, options.webhookSecret))
      return c.json({ error: { code: 'forbidden', message: 'bad secret' } }, 403);
    const parsed = parseNotification(await c.req.text());
    if (parsed.kind === 'invalid')
      return c.json({ error: { code: 'bad-request', message: parsed.reason } }, 400);
    if (parsed.kind === 'events')
      await ingest(parsed.events.filter((event) => event.bucket === options.bucket?.name));
    return c.json({ ok: true });
  });
  mountDashboard(app, log);
  app.route(
    '/',
    createApiRouter({
      data,
      now: Date.now,
      callerOf: () => 'local',
      ...(options.bucket ? { bucket: options.bucket.name } : {}),
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      onError: (error) => log(`walwatch: API error: ${(error as Error).stack ?? String(error)}`),
    }),
  );

  const server: ServerType = await new Promise((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () =>
      resolve(started),
    );
    started.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  await runSweep();
  timers.push(setInterval(() => void runSweep(), options.sweepIntervalMs ?? 15_000));

  return {
    url,
    store,
    syncNow: async () => {
      await watcher?.scanNow();
    },
    sweepNow: async () => {
      await runSweep();
    },
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      await queue?.stop();
      await watcher?.stop();
      await listing;
      await sweeping;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.stop();
    },
  };
}

async function ensureFolder(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

async function readLocalDocument(root: string, key: string, compression: Compression): Promise<DocumentRead> {
  let body: Uint8Array;
  try {
    body = new Uint8Array(await readFile(join(root, ...key.split('/'))));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { error: 'file was gone when read' };
    throw error;
  }
  return decodeDocument(body, compression);
}

/** Long-polls an SQS queue of S3 notifications and feeds it to the same ingest as the Lambda. */
function startQueuePoller(
  queueUrl: string,
  bucket: string,
  fold: FoldDependencies,
  log: (line: string) => void,
  /** Runs after each batch with the clusters it folded (their chain ends may have moved). */
  afterBatch: (clusters: readonly string[]) => Promise<void>,
) {
  const sqs = new SQSClient({});
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
        );
        if (Messages.length === 0) continue;
        const report = await ingestMessages(
          fold,
          bucket,
          Messages.map((m) => ({ messageId: m.MessageId as string, body: m.Body ?? '' })),
        );
        const failed = new Set(report.failures.map((failure) => failure.messageId));
        for (const failure of report.failures)
          log(`walwatch: queue message ${failure.messageId} failed: ${failure.reason}`);
        const done = Messages.filter((m) => !failed.has(m.MessageId as string));
        if (done.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
            }),
          );
        }
        await afterBatch(report.clusters).catch((error) =>
          log(`walwatch: segment content after a queue batch: ${(error as Error).message}`),
        );
      } catch (error) {
        log(`walwatch: queue ${queueUrl}: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      sqs.destroy();
    },
  };
}

/** Serves the dashboard when its sources are present; a plain pointer to the API otherwise. */
function mountDashboard(app: Hono, log: (line: string) => void): void {
  let built: Promise<{ html: string; js: string; css: string } | undefined> | undefined;
  const dashboard = () => {
    // Resolved at run time: the dashboard sources ship beside the monitor, not inside its bundle.
    const source = '../../web/build.js';
    built ??= import(source)
      .then((module: { buildDashboard: () => Promise<{ html: string; js: string; css: string }> }) =>
        module.buildDashboard(),
      )
      .catch((error) => {
        log(`walwatch: dashboard unavailable: ${(error as Error).message}`);
        return undefined;
      });
    return built;
  };
  app.get('/', async (c) => {
    const page = await dashboard();
    if (!page)
      return c.html(
        '<!doctype html><title>walwatch</title><p>walwatch is running: see <a href="/clusters">/clusters</a>.</p>',
      );
    return c.html(page.html);
  });
  app.get('/dashboard.js', async (c) => {
    const page = await dashboard();
    return page ? c.body(page.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }) : c.notFound();
  });
  app.get('/dashboard.css', async (c) => {
    const page = await dashboard();
    return page ? c.body(page.css, 200, { 'content-type': 'text/css; charset=utf-8' }) : c.notFound();
  });
}
