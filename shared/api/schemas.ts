/**
 * The query API's inputs and answers as zod schemas: the router validates requests with them and the
 * OpenAPI 3.1 document (`GET /openapi.json`) is generated from them, so the document cannot drift from the
 * routes. Answer objects are strict: a field a route returns that the document does not describe fails the
 * route tests, which validate every response against the document. The report schemas mirror
 * `shared/core/report.ts` (a type-level test keeps them equal).
 */
import { z } from '@hono/zod-openapi';
import { DRILL_HISTORY } from '../core/drill-status.js';
import { MAX_FLEET_PAGE } from '../store/fleet-rows.js';

const lsn = z
  .string()
  .openapi({ description: 'An LSN as PostgreSQL prints it, `%X/%X`.', example: '0/5000028' });
const isoTime = z
  .string()
  .openapi({ description: 'ISO 8601 time in UTC.', example: '2026-11-01T00:24:00.000Z' });
const walFile = z
  .string()
  .openapi({ description: 'A WAL segment file name (24 hex digits).', example: '000000020000000000000019' });

export const statusSchema = z.enum(['ok', 'warning', 'critical']).openapi('Status');
export const severitySchema = z.enum(['info', 'warning', 'critical']).openapi('Severity');

export const timelineSchema = z
  .strictObject({
    id: z.number().int(),
    parent: z.number().int().nullable(),
    switchLsn: lsn.nullable(),
    firstSegment: walFile.nullable(),
    lastSegment: walFile.nullable(),
    segments: z.number().int(),
    history: z.enum(['ok', 'missing', 'invalid']),
    inLineage: z.boolean(),
  })
  .openapi('Timeline');

export const backupStatusSchema = z
  .enum(['restorable', 'missing-wal', 'broken-chain', 'in-progress', 'failed', 'invalid'])
  .openapi('BackupStatus');

export const backupSchema = z
  .strictObject({
    name: z.string(),
    timeline: z.number().int(),
    startSegment: walFile,
    startLsn: lsn.nullable(),
    finishLsn: lsn.nullable(),
    startTime: isoTime.nullable(),
    finishTime: isoTime.nullable(),
    status: backupStatusSchema,
    permanent: z.boolean(),
    delta: z
      .strictObject({
        parent: z.string(),
        full: z.string().nullable(),
        count: z.number().int().nullable(),
      })
      .nullable(),
    compressedSize: z.number().nullable(),
    uncompressedSize: z.number().nullable(),
    systemIdentifier: z.string().nullable(),
    pgVersion: z.number().int().nullable(),
    sentinelStoredAt: isoTime.nullable(),
    reason: z.string().nullable(),
  })
  .openapi('Backup');

export const gapSchema = z
  .strictObject({
    id: z.string().openapi({ example: '00000002000000000000001A-00000002000000000000001A' }),
    timeline: z.number().int(),
    firstSegment: walFile,
    lastSegment: walFile,
    count: z.number().int(),
    status: z.enum(['pending', 'lost', 'acknowledged', 'filled']),
    severity: z.enum(['warning', 'critical']),
    nextSegmentStoredAt: isoTime.nullable(),
  })
  .openapi('Gap');

export const earliestRecoverableSchema = z
  .strictObject({ backup: z.string(), timeline: z.number().int(), lsn, time: isoTime.nullable() })
  .openapi('EarliestRecoverable');

export const latestRecoverableSchema = z
  .strictObject({
    backup: z.string(),
    timeline: z.number().int(),
    segment: walFile,
    lsn,
    archivedAt: isoTime.nullable(),
    lastCommitTime: isoTime.nullable(),
    lastCommitLsn: lsn.nullable(),
  })
  .openapi('LatestRecoverable');

export const recoverableIntervalSchema = z
  .strictObject({
    timeline: z.number().int(),
    fromLsn: lsn,
    toLsn: lsn,
    fromTime: isoTime.nullable(),
    toTime: isoTime.nullable(),
    backups: z.array(z.string()),
  })
  .openapi('RecoverableInterval');

export const problemSchema = z
  .strictObject({ kind: z.string(), severity: severitySchema, subject: z.string(), message: z.string() })
  .openapi('Problem');

const drillPointSchema = z
  .strictObject({
    timeline: z.number().int().nullable(),
    lsn: lsn.nullable(),
    lastCommitTime: isoTime.nullable(),
  })
  .openapi('DrillPoint');
const drillVerdictSchema = z.enum(['verified', 'mismatch', 'failed']).openapi('DrillVerdict');

export const lastDrillSchema = z
  .strictObject({
    startedAt: isoTime,
    finishedAt: isoTime,
    target: z.string(),
    backup: z.string().nullable(),
    verdict: drillVerdictSchema,
    predicted: drillPointSchema,
    reached: drillPointSchema,
    reason: z.string().nullable(),
    lastVerifiedAt: isoTime.nullable(),
  })
  .openapi('LastDrill');

export const drillRecordSchema = z
  .strictObject({
    startedAt: isoTime,
    finishedAt: isoTime,
    cluster: z.string(),
    target: z.string(),
    backup: z.string().nullable(),
    verdict: drillVerdictSchema,
    predicted: drillPointSchema,
    reached: drillPointSchema,
    consistentLsn: lsn.nullable(),
    checkResult: z.string().nullable(),
    reason: z.string().nullable(),
    logTail: z.string().nullable(),
    downloadedBytes: z.number().int(),
    timings: z
      .strictObject({ downloadMs: z.number(), unpackMs: z.number(), replayMs: z.number() })
      .optional(),
    prefetch: z
      .strictObject({
        planned: z.number().int(),
        fetched: z.number().int(),
        served: z.number().int(),
        failed: z.number().int(),
        absent: z.number().int(),
      })
      .optional(),
    notes: z.array(z.string()).readonly().optional(),
  })
  .openapi('DrillRecord');

export const drillLimitQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1, `limit must be 1 to ${DRILL_HISTORY}`)
    .max(DRILL_HISTORY, `limit must be 1 to ${DRILL_HISTORY}`)
    .default(DRILL_HISTORY)
    .openapi({
      param: { name: 'limit', in: 'query' },
      description: `How many drills, newest first (1 to ${DRILL_HISTORY}).`,
    }),
});

export const clusterReportSchema = z
  .strictObject({
    id: z.string(),
    scope: z.string().nullable(),
    uid: z.string().nullable(),
    pgMajor: z.string().nullable(),
    segmentSize: z.number().int(),
    segmentSizeSource: z.enum([
      'configured',
      'backup-label',
      'sentinel',
      'page-header',
      'object-size',
      'assumed',
    ]),
    status: statusSchema,
    targetTimeline: z.number().int(),
    timelines: z.array(timelineSchema),
    backups: z.array(backupSchema),
    gaps: z.array(gapSchema),
    earliestRecoverable: earliestRecoverableSchema.nullable(),
    latestRecoverable: latestRecoverableSchema.nullable(),
    recoverableIntervals: z.array(recoverableIntervalSchema),
    archiveAgeSeconds: z.number().nullable(),
    backupAgeSeconds: z.number().nullable(),
    recoveryPointLagSeconds: z.number().nullable(),
    headSegment: walFile.nullable(),
    lastArchivedAt: isoTime.nullable(),
    unreferencedSegments: z.number().int(),
    divergedSegments: z.number().int(),
    problems: z.array(problemSchema),
    lastDrill: lastDrillSchema.nullable().optional(),
  })
  .openapi('ClusterReport');

const count = (description: string) => z.number().int().openapi({ description });

/** One row of the fleet list: the stored summary of a cluster, with its ages at answer time. */
export const fleetEntrySchema = z
  .strictObject({
    id: z.string(),
    scope: z.string().nullable(),
    uid: z.string().nullable(),
    pgMajor: z.string().nullable(),
    status: statusSchema,
    worstProblem: problemSchema
      .nullable()
      .openapi({ description: 'The first problem of the highest severity; `null` when none.' }),
    latestRecoverable: latestRecoverableSchema.nullable(),
    earliestRecoverable: earliestRecoverableSchema.nullable(),
    recoveryPointAt: isoTime.nullable().openapi({
      description: 'What the recovery point lag is measured from (last commit, else archive time).',
    }),
    lastArchivedAt: isoTime.nullable(),
    lastBackupAt: isoTime.nullable().openapi({ description: 'When the newest restorable backup finished.' }),
    problems: count('Warning and critical problems.'),
    criticalProblems: count('Critical problems.'),
    gaps: count('Lost gaps.'),
    lostGapSegments: count('Segments the lost gaps miss.'),
    pendingGaps: count('Gaps still within their grace period.'),
    backups: count('Base backups.'),
    restorableBackups: count('Restorable base backups.'),
    analyzedAt: isoTime.openapi({ description: 'When the analysis this row comes from ran.' }),
    lastDrill: z
      .strictObject({ finishedAt: isoTime, verdict: drillVerdictSchema, lastVerifiedAt: isoTime.nullable() })
      .nullable(),
    archiveAgeSeconds: z.number().nullable(),
    backupAgeSeconds: z.number().nullable(),
    recoveryPointLagSeconds: z.number().nullable(),
  })
  .openapi('FleetEntry');

export const fleetCountsSchema = z
  .strictObject({
    critical: z.number().int(),
    warning: z.number().int(),
    ok: z.number().int(),
    total: z.number().int(),
  })
  .openapi('FleetCounts');

/** One page of `GET /clusters`. */
export const fleetPageSchema = z
  .strictObject({
    generatedAt: isoTime,
    clusters: z.array(fleetEntrySchema),
    cursor: z
      .string()
      .nullable()
      .openapi({ description: 'Pass as `cursor` for the next page; `null` on the last page.' }),
    counts: fleetCountsSchema
      .nullable()
      .openapi({ description: 'Clusters per status at the last sweep (the whole fleet, not the filter).' }),
    countsAt: isoTime.nullable().openapi({ description: 'When the last sweep wrote the counts.' }),
  })
  .openapi('FleetPage');

const STATUS_LIST = /^(critical|warning|ok)(,(critical|warning|ok))*$/;

/** The query of `GET /clusters`: unknown parameters are refused. */
export const fleetQuerySchema = z.strictObject({
  limit: z.coerce
    .number()
    .int(`limit must be 1 to ${MAX_FLEET_PAGE}`)
    .min(1, `limit must be 1 to ${MAX_FLEET_PAGE}`)
    .max(MAX_FLEET_PAGE, `limit must be 1 to ${MAX_FLEET_PAGE}`)
    .default(MAX_FLEET_PAGE)
    .openapi({
      param: { name: 'limit', in: 'query' },
      description: `Rows per page, 1 to ${MAX_FLEET_PAGE}.`,
      example: 100,
    }),
  cursor: z
    .string()
    .min(1, 'cursor must not be empty')
    .max(4096, 'cursor must be at most 4096 characters')
    .optional()
    .openapi({
      param: { name: 'cursor', in: 'query' },
      description: 'The `cursor` of the previous page.',
    }),
  status: z
    .string()
    .max(64, 'status must be at most 64 characters')
    .regex(STATUS_LIST, 'status must be critical, warning or ok, comma-separated')
    .optional()
    .openapi({
      param: { name: 'status', in: 'query' },
      description: 'Only clusters with any of these statuses, comma-separated.',
      example: 'critical,warning',
    }),
  scope: z
    .string()
    .min(1, 'scope must not be empty')
    .max(256, 'scope must be at most 256 characters')
    .optional()
    .openapi({
      param: { name: 'scope', in: 'query' },
      description: 'Only clusters whose Spilo scope starts with this.',
    }),
  q: z
    .string()
    .min(1, 'q must not be empty')
    .max(256, 'q must be at most 256 characters')
    .optional()
    .openapi({
      param: { name: 'q', in: 'query' },
      description: 'Only cluster ids containing this, ignoring case.',
    }),
});

export const restorePlanSchema = z
  .strictObject({
    cluster: z.string(),
    target: z.strictObject({ kind: z.enum(['latest', 'time', 'lsn']), value: z.string().nullable() }),
    reachable: z.boolean(),
    reason: z.string().nullable(),
    certainty: z.enum(['exact', 'upper-bound']),
    backup: z.string().nullable(),
    timeline: z.number().int().nullable(),
    spiloBackup: z.string().nullable(),
    spiloEnv: z.record(z.string(), z.string()),
    walgSteps: z.array(z.string()),
    notes: z.array(z.string()),
  })
  .openapi('RestorePlan');

const segmentSummarySchema = z
  .strictObject({
    fileSize: z.number().int(),
    startLsn: lsn.nullable(),
    timeline: z.number().int().nullable(),
    segmentSize: z.number().int().nullable(),
    systemIdentifier: z.string().nullable(),
    postgresVersion: z.number().int().nullable(),
    firstRecordLsn: lsn.nullable(),
    lastRecordLsn: lsn.nullable(),
    endLsn: lsn.nullable(),
    recordCount: z.number().int(),
    recordBytes: z.number().int(),
    commitCount: z.number().int(),
    abortCount: z.number().int(),
    firstCommitTime: isoTime.nullable(),
    lastCommitTime: isoTime.nullable(),
    lastCommitLsn: lsn.nullable(),
    lastTransactionEnd: z.strictObject({ kind: z.enum(['commit', 'abort']), lsn, time: isoTime }).nullable(),
    restorePoints: z.array(z.strictObject({ name: z.string(), lsn, time: isoTime })).readonly(),
    end: z.enum(['segment-end', 'switch', 'end-of-wal', 'invalid']),
    endsWithSwitch: z.boolean(),
    error: z.string().nullable(),
    errorLsn: lsn.nullable(),
  })
  .openapi('SegmentSummary');

export const segmentReadSchema = z
  .strictObject({
    generatedAt: isoTime,
    segment: walFile,
    key: z.string(),
    etag: z.string().nullable(),
    objectAt: isoTime,
    readAt: isoTime,
    summary: segmentSummarySchema.nullable(),
    readError: z.string().nullable(),
    defect: z
      .strictObject({
        kind: z.enum(['corrupt', 'zeroed', 'wrong-segment', 'wrong-size', 'foreign']),
        message: z.string(),
        stopLsn: lsn,
      })
      .nullable(),
  })
  .openapi('SegmentRead');

export const acknowledgementSchema = z
  .strictObject({ reason: z.string(), by: z.string(), at: isoTime })
  .openapi('Acknowledgement');

export const closedGapSchema = z
  .strictObject({
    id: gapSchema.shape.id,
    timeline: z.number().int(),
    firstSegment: walFile,
    lastSegment: walFile,
    count: z.number().int(),
    firstSeenAt: isoTime.openapi({ description: 'When a sweep first saw the gap (or a gap it continues).' }),
    closedAt: isoTime.openapi({
      description: 'When a sweep found it gone (within one sweep of the arrival).',
    }),
    status: z.enum(['filled', 'out-of-range']).openapi({
      description:
        '`filled`: every segment is archived now (and readable where content is read); `out-of-range`: segments are still absent but no longer checked (retention removed the backups that needed them, or the lineage moved on).',
    }),
    worstStatus: z
      .enum(['pending', 'lost', 'acknowledged'])
      .openapi({ description: 'The worst status it reached, pending < lost < acknowledged.' }),
    severity: z.enum(['warning', 'critical']).openapi({ description: 'The worst severity it reached.' }),
    acknowledgement: acknowledgementSchema
      .optional()
      .openapi({ description: 'The acknowledgement it had; it closed with the gap.' }),
  })
  .openapi('ClosedGap');

export const errorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.enum([
        'bad-request',
        'unauthorized',
        'forbidden',
        'not-found',
        'method-not-allowed',
        'conflict',
        'payload-too-large',
        'unsupported-media-type',
        'events-dropped',
        'overloaded',
        'internal',
      ]),
      message: z.string(),
    }),
  })
  .openapi('Error');

/** A cluster id in a path: one URL-encoded segment (`spilo%2Fsuperman%2Fwal%2F15`). */
export const clusterIdParam = z
  .string()
  .min(1, 'cluster id must be 1 to 1024 characters')
  .max(1024, 'cluster id must be 1 to 1024 characters')
  .openapi({
    param: { name: 'id', in: 'path' },
    description: 'The cluster id (its archive root), URL-encoded as one path segment.',
    example: 'spilo%2Fsuperman%2Fwal%2F15',
  });

export const gapIdParam = z
  .string()
  .regex(/^[0-9A-F]{24}-[0-9A-F]{24}$/, 'a gap id is <first segment>-<last segment>')
  .openapi({
    param: { name: 'gapId', in: 'path' },
    example: '00000002000000000000001A-00000002000000000000001A',
  });

export const segmentNameParam = z
  .string()
  .openapi({ param: { name: 'name', in: 'path' }, example: '000000020000000000000019' });

export const ackBodySchema = z
  .strictObject({ reason: z.string().trim().min(1).max(1000) })
  .openapi('AcknowledgeGap', { example: { reason: 'segment lost in the 11/01 incident, new backup taken' } });

export const restoreQuerySchema = z.object({
  target: z
    .string()
    .max(64, 'target must be at most 64 characters')
    .optional()
    .openapi({
      param: { name: 'target', in: 'query' },
      description: '`latest` (the default), an ISO 8601 time with a zone, or an LSN.',
      example: '2026-11-01T00:20:00Z',
    }),
});
