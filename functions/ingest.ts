/**
 * The ingest Lambda: S3 event notifications delivered through SQS → facts and cluster states in DynamoDB.
 *
 * Gather: the batch's messages. Decide and act: `ingestMessages` parses them, reads the few documents it
 * needs and folds every event of the batch at once (one state write per cluster). Then, for the batch's
 * clusters whose content policy (`WALWATCH_READ_CONTENT`) is not `off`, it reads the segment at each
 * chain end that moved, so the exact last commit time follows new WAL within seconds. Return: a partial
 * batch response, so a bad or failed message is retried alone and, after the queue's receive limit, lands
 * in the dead-letter queue. Reading content never fails a message: what it leaves, the sweeper reads.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { settingFor } from '../shared/config/cluster-setting.js';
import { contentModeFor, widestContentMode } from '../shared/config/content-policy.js';
import type { ClusterState } from '../shared/core/state.js';
import { ingestMessages, type MessageFailure } from '../shared/events/ingest-messages.js';
import { recordIngestReport } from '../shared/events/ingest-telemetry.js';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import { createLazyS3Client, lazyS3ObjectReader, readArchiveDocument } from '../shared/events/s3-objects.js';
import { createDocumentClient } from '../shared/store/client.js';
import { getClusterState, putClusterState } from '../shared/store/cluster-states.js';
import type { FoldDependencies } from '../shared/store/fold-events.js';

const config = readPipelineConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-ingest' });
const metrics = new Metrics({ namespace: 'walwatch', serviceName: 'ingest' });
const s3 = createLazyS3Client();
const db = createDocumentClient();
const segments = lazyS3ObjectReader(s3, config.bucket);
const deps: FoldDependencies = {
  db,
  table: config.table,
  segmentSizeOf: (clusterId) => settingFor(config.segmentSizes, clusterId),
  readDocument: async (key, compression) => readArchiveDocument(await s3(), config.bucket, key, compression),
  // Loaded on a cluster's first segment, not at cold start: one ranged GET of its head a cluster.
  readSegmentHeader: async (key) =>
    (await import('../shared/sources/read-segment-summary.js')).readSegmentHeaderSize(segments, key),
};
const processor = new BatchProcessor(EventType.SQS);
const readsContent = widestContentMode(config.readContent) !== 'off';

/** A message this batch could not ingest; thrown per record so Powertools lists it as a batch item failure. */
export class MessageNotIngestedError extends Error {
  override readonly name = 'MessageNotIngestedError';
}

/** Time kept for settling the batch after chain ends are read. */
const SETTLE_RESERVE_MS = 10_000;

/**
 * Reads the chain ends of the batch's clusters that read content. The modules that read segments load on
 * the first such batch, not at cold start; a failure is logged, never thrown.
 */
async function readChainEnds(clusters: readonly string[], context: Context): Promise<void> {
  const wanted = clusters.filter((clusterId) => contentModeFor(config.readContent, clusterId) !== 'off');
  if (wanted.length === 0) return;
  try {
    const { refreshChainCommitsOf } = await import('../shared/monitor/chain-content.js');
    const content = {
      getState: (clusterId: string) => getClusterState(db, config.table, clusterId),
      putState: (state: ClusterState, ver: number) => putClusterState(db, config.table, state, ver),
      source: lazyS3ObjectReader(s3, config.bucket),
      now: Date.now,
    };
    const deadline = Date.now() + context.getRemainingTimeInMillis() - SETTLE_RESERVE_MS;
    const results = await refreshChainCommitsOf(content, config.readContent, wanted, deadline);
    let read = 0;
    for (const [clusterId, outcome] of results) {
      read += outcome.read;
      if (outcome.errors.length > 0)
        logger.warn('segment content unreadable', { clusterId, errors: outcome.errors });
    }
    if (read > 0) metrics.addMetric('ChainEndsRead', MetricUnit.Count, read);
    if (results.size < wanted.length)
      logger.info('chain ends left for the sweeper: out of time', {
        clusters: wanted.filter((clusterId) => !results.has(clusterId)),
      });
  } catch (error) {
    logger.warn('chain ends not read: the sweeper reads them', { error: error as Error });
  }
}

async function ingest(event: SQSEvent, context: Context) {
  const report = await ingestMessages(deps, config.bucket, event.Records);
  recordIngestReport(logger, metrics, report);
  if (readsContent) await readChainEnds(report.clusters, context);
  const failed = new Map<string, MessageFailure>(
    report.failures.map((failure) => [failure.messageId, failure]),
  );
  const settle = async (record: SQSRecord): Promise<void> => {
    const failure = failed.get(record.messageId);
    if (failure)
      throw new MessageNotIngestedError(`${failure.kind}: ${failure.reason}`, { cause: failure.error });
  };
  return processPartialResponse(event, settle, processor, { context, throwOnFullBatchFailure: false });
}

/** The Lambda entry point. */
export const handler = middy(ingest).use(injectLambdaContext(logger)).use(logMetrics(metrics));
