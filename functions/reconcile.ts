/**
 * The reconcile Lambda: scheduled (from each cluster's head onwards) or invoked once with
 * `{"full": true}` to adopt an existing bucket. Feeds listings through the same fold as ingest.
 *
 * With an S3 Inventory configured (`WALWATCH_INVENTORY_LOCATION`), a full run reads the newest report's
 * manifest instead of listing and sends each data file to the reconcile worker (`WALWATCH_RECONCILE_QUEUE_URL`),
 * so no single run's time bounds the bucket's size; a missing or stale report falls back to listing, with a
 * log line saying why. `{"full": true, "source": "listing"}` always lists (and finds missed removals).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { readInventoryConfig } from '../shared/config/inventory-config.js';
import { findNewestManifest } from '../shared/events/inventory-manifest.js';
import { readPipelineConfig } from '../shared/events/pipeline-config.js';
import { sendMessages } from '../shared/events/queue-messages.js';
import { type ReconcileReport, reconcileArchive } from '../shared/events/reconcile-archive.js';
import { createReconcileDependencies } from '../shared/events/reconcile-dependencies.js';
import { inventoryFileMessages } from '../shared/events/reconcile-inventory.js';
import { emptyFoldCounts } from '../shared/store/fold-events.js';

const config = readPipelineConfig(process.env);
const inventory = readInventoryConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-reconcile' });
const metrics = new Metrics({ namespace: 'walwatch', serviceName: 'reconcile' });
const deps = createReconcileDependencies(config);
const sqs = new SQSClient({});

/** Objects of a run could not be folded; the next run lists them again. */
export class ReconcileIncompleteError extends Error {
  override readonly name = 'ReconcileIncompleteError';
}

/** What a run did; a full run from the inventory lists nothing and names the report whose files it sent. */
export interface ReconcileRun extends ReconcileReport {
  readonly inventory?: { readonly manifest: string; readonly files: number };
}

async function reconcile(
  event: { full?: boolean; source?: 'inventory' | 'listing' } | null | undefined,
): Promise<ReconcileRun> {
  const full = event?.full === true;
  if (full && inventory && event?.source !== 'listing') {
    const lookup = await findNewestManifest(deps.s3, inventory.location, { now: Date.now() });
    if (lookup.kind === 'found') {
      const messages = inventoryFileMessages(lookup.manifest);
      await sendMessages(
        sqs,
        inventory.queueUrl,
        messages.map((message) => JSON.stringify(message)),
      );
      metrics.addMetric('inventoryFiles', MetricUnit.Count, messages.length);
      logger.info('full reconcile from the inventory', {
        manifest: lookup.manifest.key,
        createdAt: new Date(lookup.manifest.creationTimestamp).toISOString(),
        files: messages.length,
      });
      return {
        listings: [],
        counts: emptyFoldCounts(),
        failed: 0,
        removed: 0,
        inventory: { manifest: lookup.manifest.key, files: messages.length },
      };
    }
    logger.warn('inventory report not usable, listing the bucket instead', {
      ...(lookup.kind === 'stale'
        ? { reason: 'stale', manifest: lookup.manifest.key, ageHours: Math.round(lookup.ageMs / 3_600_000) }
        : { reason: lookup.reason }),
    });
  }
  const report = await reconcileArchive(deps, { roots: config.archiveRoots, full });
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
