/**
 * The query API: one Hono router serving API Gateway (through `hono/aws-lambda`) and the local monitor
 * (through `@hono/node-server`), so every route has one implementation.
 *
 * Cluster ids contain slashes: in paths they are one URL-encoded segment, `encodeURIComponent(id)`
 * (`/clusters/spilo%2Fsuperman%2Fwal%2F15/gaps`). Errors are `{ "error": { "code", "message" } }`.
 */
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { Thresholds } from '../core/config.js';
import { parseWalFileName } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import { parseRestoreTarget, planRestore } from '../core/restore-plan.js';
import { answerFleetPage } from './fleet-page.js';
import { refreshFleetRow } from './fleet-summary.js';
import type { MonitorData } from './monitor-data.js';
import { loadClusterReport } from './reports.js';

/** What the router needs from its host. */
export interface ApiDependencies {
  readonly data: MonitorData;
  /** The clock (epoch ms). */
  readonly now: () => number;
  /** Who is calling, for acknowledgements: the IAM principal on AWS. */
  readonly callerOf: (context: Context) => string;
  /** The archive bucket, for restore-plan settings. */
  readonly bucket?: string;
  readonly thresholds?: Partial<Thresholds>;
  /** Called with unexpected errors before the 500 answer (logging). */
  readonly onError?: (error: unknown) => void;
}

const clusterId = z.string().min(1).max(1024);
const gapId = z.string().regex(/^[0-9A-F]{24}-[0-9A-F]{24}$/, 'a gap id is <first segment>-<last segment>');
const ackBody = z.object({ reason: z.string().trim().min(1).max(1000) }).strict();
const restoreQuery = z.object({ target: z.string().max(64).optional() });

type ErrorCode = 'bad-request' | 'not-found' | 'internal';

function fail(c: Context, status: 400 | 404 | 500, code: ErrorCode, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

/** Builds the API. */
export function createApiRouter(deps: ApiDependencies): Hono {
  const app = new Hono();

  const withCluster = async (
    c: Context,
    respond: (report: ClusterReport, generatedAt: string) => Response | Promise<Response>,
  ): Promise<Response> => {
    const id = clusterId.safeParse(c.req.param('id'));
    if (!id.success) return fail(c, 400, 'bad-request', 'cluster id must be 1 to 1024 characters');
    const now = deps.now();
    const report = await loadClusterReport(deps.data, id.data, now, deps.thresholds);
    if (!report) return fail(c, 404, 'not-found', `no cluster ${JSON.stringify(id.data)}`);
    return respond(report, new Date(now).toISOString());
  };

  app.get('/clusters', (c) => answerFleetPage(c, deps.data, deps.now()));
  app.get('/clusters/:id', (c) => withCluster(c, (cluster, generatedAt) => c.json({ generatedAt, cluster })));
  app.get('/clusters/:id/recoverable-point', (c) =>
    withCluster(c, (r, generatedAt) =>
      c.json({
        generatedAt,
        latestRecoverable: r.latestRecoverable,
        earliestRecoverable: r.earliestRecoverable,
        recoverableIntervals: r.recoverableIntervals,
        recoveryPointLagSeconds: r.recoveryPointLagSeconds,
      }),
    ),
  );
  app.get('/clusters/:id/gaps', (c) =>
    withCluster(c, (r, generatedAt) => c.json({ generatedAt, gaps: r.gaps })),
  );
  app.get('/clusters/:id/backups', (c) =>
    withCluster(c, (r, generatedAt) => c.json({ generatedAt, backups: r.backups })),
  );
  app.get('/clusters/:id/timelines', (c) =>
    withCluster(c, (r, generatedAt) =>
      c.json({ generatedAt, targetTimeline: r.targetTimeline, timelines: r.timelines }),
    ),
  );
  app.get('/clusters/:id/restore-plan', (c) =>
    withCluster(c, (report) => {
      const query = restoreQuery.safeParse({ target: c.req.query('target') });
      if (!query.success) return fail(c, 400, 'bad-request', 'target must be at most 64 characters');
      const target = parseRestoreTarget(query.data.target ?? 'latest');
      if (!target.ok) return fail(c, 400, 'bad-request', target.error);
      return c.json(planRestore(report, target.target, deps.bucket ? { bucket: deps.bucket } : {}));
    }),
  );
  app.get('/clusters/:id/segments/:name', (c) =>
    withCluster(c, async (report, generatedAt) => {
      const name = c.req.param('name');
      const parsed = parseWalFileName(name, report.segmentSize);
      if (!parsed.ok)
        return fail(
          c,
          400,
          'bad-request',
          `${JSON.stringify(name)} is not a WAL segment name (${parsed.reason})`,
        );
      const stored = await deps.data.getSegmentSummary(report.id, parsed.timeline, parsed.segno);
      if (!stored)
        return fail(
          c,
          404,
          'not-found',
          `${name} has not been read: the monitor reads every segment only with WALWATCH_READ_CONTENT=all`,
        );
      const { clusterId: _cluster, timeline: _timeline, segno: _segno, ...read } = stored;
      return c.json({
        generatedAt,
        segment: name,
        ...read,
        readAt: new Date(read.readAt).toISOString(),
        objectAt: new Date(read.objectAt).toISOString(),
      });
    }),
  );
  app.post('/clusters/:id/gaps/:gapId/ack', (c) =>
    withCluster(c, async (report) => {
      const gap = gapId.safeParse(c.req.param('gapId'));
      if (!gap.success) return fail(c, 400, 'bad-request', gap.error.issues[0]?.message ?? 'bad gap id');
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return fail(c, 400, 'bad-request', 'body must be JSON: {"reason": "…"}');
      }
      const parsed = ackBody.safeParse(body);
      if (!parsed.success)
        return fail(c, 400, 'bad-request', 'body must be {"reason": "<1 to 1000 characters>"}');
      if (!report.gaps.some((g) => g.id === gap.data))
        return fail(c, 404, 'not-found', `no gap ${gap.data} in ${report.id}`);
      const acknowledgement = {
        reason: parsed.data.reason,
        by: deps.callerOf(c),
        at: new Date(deps.now()).toISOString(),
      };
      await deps.data.acknowledgeGap(report.id, gap.data, acknowledgement);
      // The gap no longer counts as lost in the fleet list.
      await refreshFleetRow(deps.data, report.id, deps.now(), deps.thresholds);
      return c.json({ ok: true, gap: gap.data, acknowledgement });
    }),
  );

  app.notFound((c) => fail(c, 404, 'not-found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((error, c) => {
    deps.onError?.(error);
    return fail(c, 500, 'internal', 'internal error');
  });
  return app;
}
