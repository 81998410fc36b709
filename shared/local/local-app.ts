/**
 * The local monitor's HTTP surface: the access rules of `access-policy.ts`, `/healthz`, `/metrics`, the
 * S3-format webhook, the dashboard, the API document and the query API, whose store-backed routes pass
 * the read cache (`read-cache.ts`) and then the bounded store queue (`store-queue.ts`).
 */
import { timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import {
  answerErrors,
  answerUnmatchedWithJson,
  jsonError,
  limitBody,
  requireJsonBody,
} from '../api/http-guards.js';
import type { MonitorData } from '../api/monitor-data.js';
import { type DrillExpectations, loadAllReports } from '../api/reports.js';
import { createApiRouter } from '../api/router.js';
import type { BucketObjectEvent } from '../events/s3-notification.js';
import { guardAccess } from './access-policy.js';
import { mountApiDocs } from './api-docs.js';
import type { LocalMonitorOptions } from './local-monitor.js';
import { renderPrometheus } from './prometheus.js';
import { cacheReads } from './read-cache.js';
import { queueStoreRequests, type StoreQueueLimits } from './store-queue.js';
import { answerNotification } from './webhook.js';

/**
 * The largest webhook body read: S3 sends one record of a few KB a notification, SQS allows 256 KB, and
 * a notification parses at no more than that.
 */
export const MAX_WEBHOOK_BODY_BYTES = 262_144;

/** What the HTTP surface needs from the running monitor. */
export interface LocalAppDependencies {
  readonly options: LocalMonitorOptions;
  readonly data: MonitorData;
  /** Clusters where restore drills are configured (for `drill-stale`). */
  readonly drills: DrillExpectations;
  /** Folds the webhook's events; returns the failures by index. */
  readonly ingest: (events: BucketObjectEvent[]) => Promise<ReadonlyMap<string, Error>>;
  /** The port the server listens on (known once it is bound), for the `Host` check. */
  readonly listenPort: () => number;
  readonly log: (line: string) => void;
  /** Counts the monitor's store writes: a new value empties the read cache. @default constant */
  readonly storeVersion?: () => number;
  /** The read cache's clock (epoch ms). @default Date.now */
  readonly cacheClock?: () => number;
  /** Limits of the store queue. @default STORE_QUEUE_LIMITS */
  readonly storeQueue?: StoreQueueLimits;
}

/** Builds the local monitor's Hono app. */
export function createLocalApp(deps: LocalAppDependencies): Hono {
  const { options, data, drills, ingest, log } = deps;
  // One queue for every route that reads the store.
  const queue = queueStoreRequests(deps.storeQueue);
  const app = new Hono();
  app.use('*', guardAccess(options, deps.listenPort));
  answerUnmatchedWithJson(app);
  answerErrors(app, (error) => log(`walwatch: HTTP error: ${(error as Error).stack ?? String(error)}`));
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/metrics', queue, async (c) => {
    const now = Date.now();
    const reports = await loadAllReports(data, now, options.thresholds, drills);
    return c.body(renderPrometheus(reports, now), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    });
  });
  const webhookAuth: MiddlewareHandler = async (c, next) => {
    if (!options.webhookSecret || !options.bucket)
      return jsonError(c, 404, 'not-found', 'webhook not enabled: start with --bucket and --webhook-secret');
    // Only the documented form: a secret in the URL ends up in logs, a bare header is no scheme at all.
    if (c.req.query('secret') !== undefined)
      return jsonError(
        c,
        400,
        'bad-request',
        'the secret goes in Authorization: Bearer <secret>, not the URL',
      );
    const given = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (given === undefined || !safeEqual(given, options.webhookSecret))
      return jsonError(c, 401, 'unauthorized', 'send the webhook secret as Authorization: Bearer <secret>', {
        'www-authenticate': 'Bearer realm="walwatch-webhook"',
      });
    return next();
  };
  app.post('/webhook/s3', webhookAuth, requireJsonBody(), limitBody(MAX_WEBHOOK_BODY_BYTES), async (c) => {
    const answer = await answerNotification(await c.req.text(), options.bucket?.name as string, ingest);
    return c.json(answer.body, answer.status);
  });
  mountDashboard(app, log);
  mountApiDocs(app);
  // A burst of reads costs one store read per distinct URL and second; what still reaches the store waits
  // in a bounded queue (503 beyond it). Health, the dashboard and the API document are answered before.
  const reads = cacheReads({
    ttlMs: 1_000,
    maxEntries: 1_000,
    now: deps.cacheClock ?? Date.now,
    ...(deps.storeVersion ? { storeVersion: deps.storeVersion } : {}),
  });
  app.use('/clusters/*', reads, queue);
  app.route(
    '/',
    createApiRouter({
      data,
      now: Date.now,
      callerOf: () => 'local',
      ...(options.bucket ? { bucket: options.bucket.name } : {}),
      ...(options.thresholds ? { thresholds: options.thresholds } : {}),
      drills: drills,
      onError: (error) => log(`walwatch: API error: ${(error as Error).stack ?? String(error)}`),
    }),
  );
  return app;
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
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
