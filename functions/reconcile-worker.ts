/**
 * The reconcile worker: folds one S3 Inventory data file per SQS message (sent by a full reconcile), through
 * the same fold as ingest and listings. A file that cannot be read or folded fails its message, which is
 * retried and then kept in the dead-letter queue; nothing of a file whose checksum is wrong is folded.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import { createReconcileDependencies } from '../shared/events/reconcile-dependencies.js';
import { parseInventoryFileMessage, reconcileInventoryFile } from '../shared/events/reconcile-inventory.js';

const config = readPipelineConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-reconcile-worker' });
const metrics = new Metrics({ namespace: 'walwatch', serviceName: 'reconcile' });
const deps = createReconcileDependencies(config);

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
