/**
 * The ingest Lambda: S3 event notifications delivered through SQS → facts and cluster states in DynamoDB.
 *
 * Gather: the batch's messages. Decide and act: `ingestMessages` parses them, reads the few documents it
 * needs and folds every event of the batch at once (one state write per cluster). Return: a partial batch
 * response, so a bad or failed message is retried alone and, after the queue's receive limit, lands in
 * the dead-letter queue.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { ingestMessages, type MessageFailure } from '../shared/events/ingest-messages.js';
import { recordIngestReport } from '../shared/events/ingest-telemetry.js';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import { createLazyS3Client, readArchiveDocument } from '../shared/events/s3-objects.js';
import { createDocumentClient } from '../shared/store/client.js';
import type { FoldDependencies } from '../shared/store/fold-events.js';

const config = readPipelineConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-ingest' });
const metrics = new Metrics({ namespace: 'walwatch', serviceName: 'ingest' });
const s3 = createLazyS3Client();
const deps: FoldDependencies = {
  db: createDocumentClient(),
  table: config.table,
  segmentSizeOf: () => config.segmentSize,
  readDocument: async (key, compression) => readArchiveDocument(await s3(), config.bucket, key, compression),
};
const processor = new BatchProcessor(EventType.SQS);

/** A message this batch could not ingest; thrown per record so Powertools lists it as a batch item failure. */
export class MessageNotIngestedError extends Error {
  override readonly name = 'MessageNotIngestedError';
}

async function ingest(event: SQSEvent, context: Context) {
  const report = await ingestMessages(deps, config.bucket, event.Records);
  recordIngestReport(logger, metrics, report);
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
