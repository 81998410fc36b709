/**
 * The local monitor: the product on one machine. An embedded DynamoDB-API store, event sources that feed
 * the same fold as the ingest Lambda (a watched folder, an S3 bucket listed incrementally or notifying a
 * webhook, an SQS queue), the sweeper on a timer, and one HTTP server with the API routes, `/metrics`
 * and the dashboard, behind the access rules of `access-policy.ts`.
 */

import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { refreshFleetRows } from '../api/fleet-summary.js';
import type { DrillExpectations } from '../api/reports.js';
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
import type { SegmentSizeSetting } from '../core/segment-size.js';
import type { ClusterState } from '../core/state.js';
import { ingestMessages } from '../events/ingest-messages.js';
import { findRemovedObjects, reconcileArchive } from '../events/reconcile-archive.js';
import { readArchiveDocument } from '../events/s3-objects.js';
import { refreshChainCommits } from '../monitor/chain-content.js';
import { scanSegmentContent } from '../monitor/segment-scan.js';
import { sweep } from '../monitor/sweep.js';
import { openDirSource } from '../sources/dir-source.js';
import { readSegmentHeaderSize } from '../sources/read-segment-summary.js';
import { createS3Client, openS3Source } from '../sources/s3-source.js';
import { getClusterState, putClusterState } from '../store/cluster-states.js';
import { type FoldDependencies, foldEvents } from '../store/fold-events.js';
import { createDynamoMonitorData } from '../store/monitor-items.js';
import { isStorableClusterId } from '../store/table.js';
import { checkAccessOptions } from './access-policy.js';
import { lockDataFolder } from './data-lock.js';
import { DirectoryWatcher } from './dir-watcher.js';
import { type EmbeddedStore, startEmbeddedStore } from './embedded-store.js';
import { createLocalApp } from './local-app.js';
import { type LocalDrillOptions, type LocalDrills, startLocalDrills } from './local-drills.js';

export { MAX_WEBHOOK_BODY_BYTES } from './local-app.js';

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
  readonly segmentSize: SegmentSizeSetting | ClusterSetting<SegmentSizeSetting>;
  readonly thresholds?: Partial<Thresholds>;
  /** Sweeper period. @default 15 s */
  readonly sweepIntervalMs?: number;
  /** Bucket listing period. @default 60 s */
  readonly listIntervalMs?: number;
  /** Shared secret for `POST /webhook/s3` (MinIO-style notifications); the webhook is off without it. */
  readonly webhookSecret?: string;
  /** Bearer token every route but the dashboard's files, `/healthz` and the webhook needs; required beyond loopback. */
  readonly apiToken?: string;
  /** More names accepted in `Host` besides loopback names and the listen address: `name` (any port) or `name:port`. */
  readonly allowHosts?: readonly string[];
  /** Page origins allowed to call the API (with CORS), e.g. a static copy of the dashboard. */
  readonly allowOrigins?: readonly string[];
  /** Alert destinations besides the console. */
  readonly alertWebhookUrl?: string;
  readonly alertTopicArn?: string;
  /** Which segment bodies to read, per cluster. @default chain ends of every cluster */
  readonly readContent?: ContentPolicy;
  /** Restore drills: periods per cluster, where the PostgreSQL binaries are. @default see `LocalDrillOptions` */
  readonly drills?: LocalDrillOptions;
  /** Where alert lines and notices go. @default stderr */
  readonly log?: (line: string) => void;
}

/** A running local monitor. */
export interface LocalMonitor {
  readonly url: string;
  readonly store: EmbeddedStore;
  /** The restore drill schedule, with the policy in effect and a line describing it. */
  readonly drills: LocalDrills;
  /** Scans the folder now and waits for the result (tests, demos). */
  syncNow(): Promise<void>;
  /** Runs one sweep now. */
  sweepNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the local monitor. The HTTP address is bound first and the data folder locked next, so a port in
 * use (`EADDRINUSE`) or a data folder in use (`DataFolderLockedError`) stops the start before anything is
 * created; a start that fails later undoes what it started.
 */
export async function startLocalMonitor(options: LocalMonitorOptions): Promise<LocalMonitor> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Before anything is bound or created: a monitor reachable from other machines without a token does not start.
  checkAccessOptions(options);
  const listening = await listen(options.host, options.port);
  const undo: Array<() => Promise<void>> = [listening.close];
  try {
    await mkdir(options.dataDir, { recursive: true });
    const lock = await lockDataFolder(options.dataDir);
    undo.push(lock.release);
    return await startServices(options, log, listening, undo, lock.release);
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw error;
  }
}

/** What the monitor serves on; requests get 503 until `serve` names the app. */
interface Listening {
  readonly server: ServerType;
  serve(fetch: Hono['fetch']): void;
  close(): Promise<void>;
}

/**
 * Connections the kernel holds for the server before it accepts them. Node's default (511) is below a
 * burst of 2,000 connections at once: the rest are dropped and the clients retry after a second. The
 * kernel caps it at `net.core.somaxconn`.
 */
const LISTEN_BACKLOG = 4_096;

async function listen(host: string, port: number): Promise<Listening> {
  let handler: Hono['fetch'] | undefined;
  const server = createAdaptorServer({
    fetch: (request, env) =>
      handler ? handler(request, env) : new Response('walwatch is starting', { status: 503 }),
    hostname: host,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    serve: (fetch) => {
      handler = fetch;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function startServices(
  options: LocalMonitorOptions,
  log: (line: string) => void,
  listening: Listening,
  /** Steps that undo what was started, for a start that fails. */
  undo: Array<() => Promise<void>>,
  releaseLock: () => Promise<void>,
): Promise<LocalMonitor> {
  const store = await startEmbeddedStore({ dataDir: join(options.dataDir, 'store') });
  undo.push(store.stop);
  const data = createDynamoMonitorData(store.db, store.table);
  const s3 = options.bucket
    ? createS3Client({
        ...(options.bucket.endpoint ? { endpoint: options.bucket.endpoint } : {}),
        ...(options.bucket.forcePathStyle ? { forcePathStyle: true } : {}),
      })
    : undefined;
  const segmentSizes: ClusterSetting<SegmentSizeSetting> =
    typeof options.segmentSize !== 'object'
      ? { default: options.segmentSize, clusters: [] }
      : options.segmentSize;
  const contentSource =
    s3 && options.bucket
      ? openS3Source({ bucket: options.bucket.name, prefix: '' }, s3)
      : options.archiveDir
        ? await openDirSource(await ensureFolder(options.archiveDir))
        : undefined;
  const fold: FoldDependencies = {
    db: store.db,
    table: store.table,
    segmentSizeOf: (clusterId) => settingFor(segmentSizes, clusterId),
    readDocument: (key, compression) =>
      s3 && options.bucket
        ? readArchiveDocument(s3, options.bucket.name, key, compression)
        : readLocalDocument(options.archiveDir as string, key, compression),
    ...(contentSource
      ? { readSegmentHeader: (key: string) => readSegmentHeaderSize(contentSource, key) }
      : {}),
  };
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
  // Drills start after the watcher, which may ingest at once: until then no cluster expects drills.
  let localDrills: LocalDrills | undefined;
  const drillExpectation: DrillExpectations = (clusterId) => localDrills?.expectation(clusterId);
  /**
   * Counts the writes that change what the API reads (a folded batch, a listing, a sweep, a drill): the
   * read cache starts over at each, so a read after a change never gets the answer from before it.
   */
  let storeVersion = 0;
  const changed = () => {
    storeVersion++;
  };
  /** Folds events; returns the failures by index in `events`. */
  const ingest = async (
    events: Parameters<typeof foldEvents>[1][number]['event'][],
  ): Promise<ReadonlyMap<string, Error>> => {
    const result = await foldEvents(
      fold,
      events.map((event, index) => ({ id: String(index), event })),
    ).finally(changed);
    for (const [, error] of result.failures) log(`walwatch: could not fold an event: ${error.message}`);
    for (const note of result.notes)
      if (note.kind === 'unstorable-key') log(`walwatch: ignored ${note.key}: ${note.reason}`);
    // Exact commit times follow the chain ends right away, not only at the next sweep.
    if (content) {
      const clusters = new Set(
        events
          .map((event) => parseObjectKey(event.key)?.clusterId)
          .filter((id): id is string => id !== undefined && isStorableClusterId(id)),
      );
      // The events are folded whatever a read does; the next sweep reads again what failed here.
      for (const id of clusters)
        await readContent(id).catch((error) =>
          log(`walwatch: ${id}: segment content after ingest: ${(error as Error).message}`),
        );
    }
    // The fleet list follows each batch at once; the sweeper settles the alerts on its next run. A row that
    // cannot be written now (the store is down) is the sweeper's to write: the fold's answer stands.
    await refreshFleetRows(
      data,
      events
        .map((event) => parseObjectKey(event.key)?.clusterId)
        .filter((id): id is string => id !== undefined && isStorableClusterId(id)),
      Date.now(),
      options.thresholds,
      drillExpectation,
    ).catch((error) => log(`walwatch: fleet rows after ingest: ${(error as Error).message}`));
    changed();
    return result.failures;
  };

  const watcher = options.archiveDir
    ? new DirectoryWatcher({
        root: options.archiveDir,
        snapshotFile: join(options.dataDir, 'store', 'folder-scan.json'),
        onEvents: async (events) => {
          await ingest(events);
        },
        onError: (error) => log(`walwatch: folder watch: ${(error as Error).message}`),
        onNotice: log,
        recoverRemovals: (present, at) => findRemovedObjects(fold, present, at),
      })
    : undefined;
  await watcher?.start();
  if (watcher) undo.push(() => watcher.stop());

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
        )
        .finally(changed);
    };
    list();
    timers.push(setInterval(list, options.listIntervalMs ?? 60_000));
  }
  const queue =
    options.queueUrl && options.bucket
      ? startQueuePoller(options.queueUrl, options.bucket.name, fold, log, async (clusters) => {
          for (const id of clusters) await readContent(id);
          await refreshFleetRows(data, clusters, Date.now(), options.thresholds, drillExpectation).finally(
            changed,
          );
        })
      : undefined;

  const drills = await startLocalDrills(
    {
      data: {
        ...data,
        // The fleet list shows a drill as soon as it is stored; the sweeper settles its alerts.
        putDrill: async (record) => {
          await data.putDrill(record).finally(changed);
          await refreshFleetRows(
            data,
            [record.cluster],
            Date.now(),
            options.thresholds,
            drillExpectation,
          ).finally(changed);
        },
      },
      archive: options.bucket
        ? {
            kind: 's3',
            bucket: options.bucket.name,
            prefix: '',
            ...(options.bucket.endpoint ? { endpoint: options.bucket.endpoint } : {}),
            ...(options.bucket.forcePathStyle ? { forcePathStyle: true } : {}),
          }
        : { kind: 'dir', dir: options.archiveDir as string },
      dataDir: options.dataDir,
      segmentSizes,
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      log,
    },
    options.drills,
  );
  localDrills = drills;

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
          drills: drills.expectation,
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
      .catch((error) => log(`walwatch: sweep failed: ${(error as Error).message}`))
      .finally(changed);
    return sweeping;
  };

  let listenPort = options.port;
  const app = createLocalApp({
    options,
    data,
    drills: drills.expectation,
    ingest,
    listenPort: () => listenPort,
    storeVersion: () => storeVersion,
    log,
  });

  const server = listening.server;
  listening.serve(app.fetch);
  const address = server.address() as AddressInfo;
  listenPort = address.port;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  await runSweep();
  timers.push(setInterval(() => void runSweep(), options.sweepIntervalMs ?? 15_000));

  return {
    url,
    store,
    drills,
    syncNow: async () => {
      await watcher?.scanNow();
    },
    sweepNow: async () => {
      await runSweep();
    },
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      await drills.stop();
      await queue?.stop();
      await watcher?.stop();
      await listing;
      await sweeping;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.stop();
      await releaseLock();
    },
  };
}

async function ensureFolder(path: string): Promise<string> {
  await mkdir(path, { recursive: true });
  return path;
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
