/**
 * The query API: one Hono router serving API Gateway (through `hono/aws-lambda`) and the local monitor
 * (through `@hono/node-server`), so every route has one implementation.
 *
 * Routes are declared with `@hono/zod-openapi`: the zod schemas of `schemas.ts` validate each request and
 * generate the OpenAPI 3.1 document served at `GET /openapi.json`, so the document describes exactly what
 * the router does.
 *
 * Cluster ids contain slashes: in paths they are one URL-encoded segment, `encodeURIComponent(id)`
 * (`/clusters/spilo%2Fsuperman%2Fwal%2F15/gaps`). Errors are `{ "error": { "code", "message" } }`. Bodies
 * must be `application/json` (415) of at most {@link MAX_API_BODY_BYTES} (413), checked before any route;
 * an unknown path is a JSON 404, a known one with another method a 405 with `Allow`.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { BlankEnv } from 'hono/types';
import type { Thresholds } from '../core/config.js';
import { DRILL_HISTORY } from '../core/drill-status.js';
import { describeClosedGaps, EMPTY_GAP_HISTORY } from '../core/gap-history.js';
import { parseWalFileName } from '../core/lsn.js';
import type { ClusterReport } from '../core/report.js';
import { parseRestoreTarget, planRestore } from '../core/restore-plan.js';
import { matchesEtag, readFleetPage } from './fleet-page.js';
import { refreshFleetRow } from './fleet-summary.js';
import {
  answerUnmatchedWithJson,
  type ErrorCode,
  jsonError,
  limitBody,
  requireJsonBody,
} from './http-guards.js';
import type { MonitorData } from './monitor-data.js';
import { type DrillExpectations, loadClusterReport } from './reports.js';
import {
  ackBodySchema,
  acknowledgementSchema,
  backupSchema,
  closedGapSchema,
  clusterIdParam,
  clusterReportSchema,
  drillLimitQuerySchema,
  drillRecordSchema,
  earliestRecoverableSchema,
  errorSchema,
  fleetPageSchema,
  fleetQuerySchema,
  gapIdParam,
  gapSchema,
  latestRecoverableSchema,
  recoverableIntervalSchema,
  restorePlanSchema,
  restoreQuerySchema,
  segmentNameParam,
  segmentReadSchema,
  timelineSchema,
} from './schemas.js';

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
  /** Clusters where restore drills are configured (for `drill-stale`). @default none */
  readonly drills?: DrillExpectations;
}

type ErrorStatus = 400 | 404 | 409 | 413 | 415 | 500 | 503;

/** The largest request body the API reads: an acknowledgement is a reason of at most 1,000 characters. */
export const MAX_API_BODY_BYTES = 16_384;

function fail<S extends ErrorStatus>(c: Context, status: S, code: ErrorCode, message: string) {
  return c.json({ error: { code, message } }, status);
}

/** The OpenAPI document's title block. */
export const API_INFO = {
  title: 'walwatch query API',
  version: '1',
  description:
    'Per cluster: the latest and earliest recoverable point, recoverable intervals, gaps, backups, timelines and restore plans, computed from a WAL-G/WAL-E archive. A cluster id is one URL-encoded path segment.',
} as const;

const json = <S extends z.ZodType>(schema: S, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});
/**
 * The local monitor's answer when its store queue is full (`shared/local/store-queue.ts`); API Gateway
 * throttles before the Lambda instead.
 */
const overloaded = {
  ...json(
    errorSchema,
    'Local monitor only: too many requests are already running or waiting for the store (`overloaded`). Retry after the seconds in `Retry-After`.',
  ),
  headers: z.object({
    'Retry-After': z.string().openapi({ description: 'Seconds to wait before retrying.', example: '1' }),
  }),
};
const errors = {
  400: json(errorSchema, 'The request is malformed: the message says what to change.'),
  404: json(errorSchema, 'No such cluster (or gap, or segment read).'),
  503: overloaded,
};
const isoTime = acknowledgementSchema.shape.at;
const clusterParams = z.object({ id: clusterIdParam });

const routes = {
  fleet: createRoute({
    method: 'get',
    path: '/clusters',
    summary: 'One page of the clusters, worst first',
    description:
      "Each cluster's summary row (status, latest and earliest recoverable point, ages at answer time, counts of problems and lost gaps, the last restore drill), worst status first, then the longest recovery point lag. Filters by status, scope and id; `cursor` pages on. The answer has a weak `ETag`: with `If-None-Match` an unchanged page answers 304 (ages move on by the clock, not the tag).",
    request: { query: fleetQuerySchema },
    responses: {
      200: json(fleetPageSchema, 'One page of the fleet.'),
      304: { description: 'The page is unchanged since the `ETag` given in `If-None-Match`.' },
      400: errors[400],
      503: errors[503],
    },
  }),
  cluster: createRoute({
    method: 'get',
    path: '/clusters/{id}',
    summary: "A cluster's full report",
    request: { params: clusterParams },
    responses: {
      200: json(z.strictObject({ generatedAt: isoTime, cluster: clusterReportSchema }), 'The report.'),
      ...errors,
    },
  }),
  recoverablePoint: createRoute({
    method: 'get',
    path: '/clusters/{id}/recoverable-point',
    summary: 'Latest and earliest recoverable point, intervals, recovery point lag',
    request: { params: clusterParams },
    responses: {
      200: json(
        z.strictObject({
          generatedAt: isoTime,
          latestRecoverable: latestRecoverableSchema.nullable(),
          earliestRecoverable: earliestRecoverableSchema.nullable(),
          recoverableIntervals: z.array(recoverableIntervalSchema),
          recoveryPointLagSeconds: z.number().nullable(),
        }),
        'The recoverable points.',
      ),
      ...errors,
    },
  }),
  gaps: createRoute({
    method: 'get',
    path: '/clusters/{id}/gaps',
    summary: "The cluster's gaps",
    request: { params: clusterParams },
    responses: {
      200: json(
        z.strictObject({
          generatedAt: isoTime,
          gaps: z.array(gapSchema),
          history: z.array(closedGapSchema).openapi({
            description:
              'Closed gaps, newest first: the newest 50, of which at most 10 were only ever pending (recorded by the sweeper).',
          }),
        }),
        'The open gaps and the history of closed ones.',
      ),
      ...errors,
    },
  }),
  backups: createRoute({
    method: 'get',
    path: '/clusters/{id}/backups',
    summary: "The cluster's base backups",
    request: { params: clusterParams },
    responses: {
      200: json(z.strictObject({ generatedAt: isoTime, backups: z.array(backupSchema) }), 'The backups.'),
      ...errors,
    },
  }),
  timelines: createRoute({
    method: 'get',
    path: '/clusters/{id}/timelines',
    summary: "The cluster's timelines and the target timeline",
    request: { params: clusterParams },
    responses: {
      200: json(
        z.strictObject({
          generatedAt: isoTime,
          targetTimeline: z.number().int(),
          timelines: z.array(timelineSchema),
        }),
        'The timelines.',
      ),
      ...errors,
    },
  }),
  restorePlan: createRoute({
    method: 'get',
    path: '/clusters/{id}/restore-plan',
    summary: 'How to restore to a time, an LSN or the latest point',
    description:
      "The backup to fetch, the timeline, whether the target is reachable and if not why, Spilo's CLONE_* variables and the plain WAL-G steps.",
    request: { params: clusterParams, query: restoreQuerySchema },
    responses: { 200: json(restorePlanSchema, 'The plan.'), ...errors },
  }),
  segment: createRoute({
    method: 'get',
    path: '/clusters/{id}/segments/{name}',
    summary: 'What the content scan stored for one segment',
    description: 'Only segments the monitor read (content mode `all`); 404 otherwise.',
    request: { params: z.object({ id: clusterIdParam, name: segmentNameParam }) },
    responses: { 200: json(segmentReadSchema, 'The stored read.'), ...errors },
  }),
  drills: createRoute({
    method: 'get',
    path: '/clusters/{id}/drills',
    summary: "The cluster's restore drills, newest first",
    description: `What each drill restored, the verdict and predicted vs reached (at most ${DRILL_HISTORY} are kept).`,
    request: { params: clusterParams, query: drillLimitQuerySchema },
    responses: {
      200: json(z.strictObject({ generatedAt: isoTime, drills: z.array(drillRecordSchema) }), 'The drills.'),
      ...errors,
    },
  }),
  acknowledge: createRoute({
    method: 'post',
    path: '/clusters/{id}/gaps/{gapId}/ack',
    summary: 'Acknowledge a gap',
    description:
      'Recorded with the caller (the IAM principal on AWS, `local` on the local monitor); the gap stays listed as `acknowledged` and stops alerting.',
    request: {
      params: z.object({ id: clusterIdParam, gapId: gapIdParam }),
      body: { required: true, content: { 'application/json': { schema: ackBodySchema } } },
    },
    responses: {
      200: json(
        z.strictObject({ ok: z.literal(true), gap: z.string(), acknowledgement: acknowledgementSchema }),
        'The acknowledgement recorded.',
      ),
      ...errors,
      409: json(
        z.strictObject({ error: errorSchema.shape.error, acknowledgement: acknowledgementSchema }),
        'The gap was acknowledged before with another reason, which stays (the same reason again is a retry: 200).',
      ),
      413: json(errorSchema, `The body is larger than ${MAX_API_BODY_BYTES} bytes.`),
      415: json(errorSchema, 'The body is not `application/json`.'),
    },
  }),
};

/** Builds the API. */
export function createApiRouter(deps: ApiDependencies): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const where = result.target === 'json' ? 'body' : result.target;
      const message =
        result.target === 'json'
          ? 'body must be {"reason": "<1 to 1000 characters>"}'
          : (issue?.message ?? `bad ${where}`);
      return fail(c, 400, 'bad-request', message);
    },
  });
  answerUnmatchedWithJson(app);
  app.use('*', requireJsonBody(), limitBody(MAX_API_BODY_BYTES));

  const withCluster = async <R>(
    c: Context,
    id: string,
    respond: (report: ClusterReport, generatedAt: string) => R | Promise<R>,
  ) => {
    const now = deps.now();
    const report = await loadClusterReport(deps.data, id, now, deps.thresholds, deps.drills);
    if (!report) return fail(c, 404, 'not-found', `no cluster ${JSON.stringify(id)}`);
    return respond(report, new Date(now).toISOString());
  };

  app.openapi(routes.fleet, async (c) => {
    const read = await readFleetPage(deps.data, c.req.valid('query'), deps.now());
    if (!read.ok) return fail(c, 400, 'bad-request', read.message);
    c.header('ETag', read.etag);
    c.header('Cache-Control', 'no-cache');
    if (matchesEtag(c.req.header('if-none-match'), read.etag)) return c.body(null, 304);
    return c.json(read.page, 200);
  });
  app.openapi(routes.cluster, (c) =>
    withCluster(c, c.req.valid('param').id, (cluster, generatedAt) => c.json({ generatedAt, cluster }, 200)),
  );
  app.openapi(routes.recoverablePoint, (c) =>
    withCluster(c, c.req.valid('param').id, (r, generatedAt) =>
      c.json(
        {
          generatedAt,
          latestRecoverable: r.latestRecoverable,
          earliestRecoverable: r.earliestRecoverable,
          recoverableIntervals: r.recoverableIntervals,
          recoveryPointLagSeconds: r.recoveryPointLagSeconds,
        },
        200,
      ),
    ),
  );
  app.openapi(routes.gaps, (c) =>
    withCluster(c, c.req.valid('param').id, async (r, generatedAt) => {
      const { gaps } = await deps.data.getAlertState(r.id);
      const history = describeClosedGaps(gaps ?? EMPTY_GAP_HISTORY, r.segmentSize);
      return c.json({ generatedAt, gaps: r.gaps, history }, 200);
    }),
  );
  app.openapi(routes.backups, (c) =>
    withCluster(c, c.req.valid('param').id, (r, generatedAt) =>
      c.json({ generatedAt, backups: r.backups }, 200),
    ),
  );
  app.openapi(routes.timelines, (c) =>
    withCluster(c, c.req.valid('param').id, (r, generatedAt) =>
      c.json({ generatedAt, targetTimeline: r.targetTimeline, timelines: r.timelines }, 200),
    ),
  );
  app.openapi(routes.restorePlan, (c) =>
    withCluster(c, c.req.valid('param').id, (report) => {
      const target = parseRestoreTarget(c.req.valid('query').target ?? 'latest');
      if (!target.ok) return fail(c, 400, 'bad-request', target.error);
      return c.json(planRestore(report, target.target, deps.bucket ? { bucket: deps.bucket } : {}), 200);
    }),
  );
  app.openapi(routes.segment, (c) => {
    const { id, name } = c.req.valid('param');
    return withCluster(c, id, async (report, generatedAt) => {
      const parsed = parseWalFileName(name, report.segmentSize);
      if (!parsed.ok)
        return fail(
          c,
          400,
          'bad-request',
          `${JSON.stringify(name)} is not a WAL segment name (${parsed.reason})`,
        );
      const stored = await deps.data.getSegmentSummary(report.id, name);
      if (!stored)
        return fail(
          c,
          404,
          'not-found',
          `${name} has not been read: the monitor reads every segment only with WALWATCH_READ_CONTENT=all`,
        );
      const { clusterId: _cluster, timeline: _timeline, segno: _segno, ...read } = stored;
      return c.json(
        {
          generatedAt,
          segment: name,
          ...read,
          readAt: new Date(read.readAt).toISOString(),
          objectAt: new Date(read.objectAt).toISOString(),
        },
        200,
      );
    });
  });
  app.openapi(routes.drills, (c) =>
    withCluster(c, c.req.valid('param').id, async (report, generatedAt) =>
      c.json({ generatedAt, drills: await deps.data.listDrills(report.id, c.req.valid('query').limit) }, 200),
    ),
  );
  app.openapi(routes.acknowledge, (c) => {
    const { id, gapId } = c.req.valid('param');
    const { reason } = c.req.valid('json');
    return withCluster(c, id, async (report) => {
      if (!report.gaps.some((g) => g.id === gapId))
        return fail(c, 404, 'not-found', `no gap ${gapId} in ${report.id}`);
      const given = { reason, by: deps.callerOf(c), at: new Date(deps.now()).toISOString() };
      // The first acknowledgement stays; the same reason again is a retry, another one a conflict.
      const acknowledgement = await deps.data.acknowledgeGap(report.id, gapId, given);
      if (acknowledgement.reason !== given.reason)
        return c.json(
          {
            error: {
              code: 'conflict' as const,
              message: `gap ${gapId} was acknowledged by ${acknowledgement.by} at ${acknowledgement.at}: ${JSON.stringify(acknowledgement.reason)}; that reason stays`,
            },
            acknowledgement,
          },
          409,
        );
      // The gap no longer counts as lost in the fleet list (a retry redoes a refresh that was lost).
      await refreshFleetRow(deps.data, report.id, deps.now(), deps.thresholds, deps.drills);
      return c.json({ ok: true as const, gap: gapId, acknowledgement }, 200);
    });
  });

  app.doc31('/openapi.json', { openapi: '3.1.0', info: API_INFO });

  app.onError((error, c) => {
    // The validators' own refusals, in the API's error shape; a middleware's answer (a token refused) as it is.
    if (error instanceof HTTPException && error.status === 415)
      return jsonError(c, 415, 'unsupported-media-type', 'the body must be application/json');
    if (error instanceof HTTPException && error.status === 400)
      return jsonError(c, 400, 'bad-request', 'body must be JSON: {"reason": "…"}');
    if (error instanceof HTTPException) return error.getResponse();
    deps.onError?.(error);
    return jsonError(c, 500, 'internal', 'internal error');
  });
  return app;
}
