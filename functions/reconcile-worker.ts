/**
 * The reconcile worker: folds one S3 Inventory data file per SQS message (sent by a full reconcile), through
 * the same fold as ingest and listings. A file that cannot be read or folded fails its message, which is
 * retried and then kept in the dead-letter queue; nothing of a file whose checksum is wrong is folded.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { settingFor } from '../shared/config/cluster-setting.js';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import type { ReconcileDependencies } from '../shared/events/reconcile-archive.js';
import { parseInventoryFileMessage, reconcileInventoryFile } from '../shared/events/reconcile-inventory.js';
import { lazyS3ObjectReader, readArchiveDocument } from '../shared/events/s3-objects.js';
import { readSegmentHeaderSize } from '../shared/sources/read-segment-summary.js';
import { createDocumentClient } from '../shared/store/client.js';

const config = readPipelineConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-reconcile-worker' });
const metrics = new Metrics({ namespace: 'walwatch', serviceName: 'reconcile' });
const s3 = new S3Client({
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const deps: ReconcileDependencies = {
  db: createDocumentClient(),
  table: config.table,
  s3,
  bucket: config.bucket,
  segmentSizeOf: (clusterId) => settingFor(config.segmentSizes, clusterId),
  readDocument: (key, compression) => readArchiveDocument(s3, config.bucket, key, compression),
  readSegmentHeader: (key) =>
    readSegmentHeaderSize(
      lazyS3ObjectReader(async () => s3, config.bucket),
      key,
    ),
};

/** Objects of a data file could not be folded; the message is retried. */
export class InventoryFoldError extends Error {
  override readonly name = 'InventoryFoldError';
}

async function foldFiles(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const message = parseInventoryFileMessage(record.body);
      const report = await reconcileInventoryFile(deps, message, { roots: config.archiveRoots });
      metrics.addMetric('inventoryObjects', MetricUnit.Count, report.objects);
      metrics.addMetric('changed', MetricUnit.Count, report.counts.changed);
      logger.info('inventory file folded', { file: message.file.key, ...report });
      if (report.failed > 0)
        throw new InventoryFoldError(`${report.failed} objects of ${message.file.key} could not be folded`);
    } catch (error) {
      logger.error('inventory file failed', { messageId: record.messageId, error: error as Error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}

/** Lambda entry point. */
export const handler = middy(foldFiles).use(injectLambdaContext(logger)).use(logMetrics(metrics));
