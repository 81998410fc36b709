/**
 * The reconcile Lambda: scheduled (from each cluster's head onwards) or invoked once with
 * `{"full": true}` to adopt an existing bucket. Feeds listings through the same fold as ingest.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import { settingFor } from '../shared/config/cluster-setting.js';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import {
  type ReconcileDependencies,
  type ReconcileReport,
  reconcileArchive,
} from '../shared/events/reconcile-archive.js';
import { readArchiveDocument } from '../shared/events/s3-objects.js';
import { createDocumentClient } from '../shared/store/client.js';

const config = readPipelineConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-reconcile' });
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
};

/** Objects of a run could not be folded; the next run lists them again. */
export class ReconcileIncompleteError extends Error {
  override readonly name = 'ReconcileIncompleteError';
}

async function reconcile(event: { full?: boolean } | null | undefined): Promise<ReconcileReport> {
  const report = await reconcileArchive(deps, { roots: config.archiveRoots, full: event?.full === true });
  const listed = report.listings.reduce((sum, listing) => sum + listing.listed, 0);
  metrics.addMetric('listedObjects', MetricUnit.Count, listed);
  metrics.addMetric('changed', MetricUnit.Count, report.counts.changed);
  metrics.addMetric('failedObjects', MetricUnit.Count, report.failed);
  metrics.addMetric('missedRemovals', MetricUnit.Count, report.removed);
  logger.info('reconciled', {
    listings: report.listings,
    counts: report.counts,
    failed: report.failed,
    removed: report.removed,
  });
  if (report.failed > 0)
    throw new ReconcileIncompleteError(`${report.failed} listed objects could not be folded`);
  return report;
}

/** The Lambda entry point. */
export const handler = middy(reconcile).use(injectLambdaContext(logger)).use(logMetrics(metrics));
