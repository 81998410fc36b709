/**
 * The sweeper, scheduled every minute: reads the segments at the ends of recovery chains that ingest has
 * not read yet (exact last commit times, for clusters `WALWATCH_READ_CONTENT` does not turn off) and, for
 * clusters it sets to `all`, every new segment (summaries, defects); then re-analyses, 16 at a time, the
 * clusters whose state changed or whose next threshold crossing has come (`shared/monitor/sweep.ts`),
 * emits freshness metrics as CloudWatch Embedded Metric Format (per cluster with the `Cluster` dimension,
 * and fleet-wide maxima without it), sends alert transitions to SNS exactly once per decision, and keeps
 * the fleet summary rows and counts right.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { contentModeFor, widestContentMode } from '../shared/config/content-policy.js';
import { readMonitorConfig } from '../shared/config/monitor-config.js';
import type { ClusterMetrics } from '../shared/core/metrics.js';
import type { ClusterState } from '../shared/core/state.js';
import { refreshChainCommitsOf } from '../shared/monitor/chain-content.js';
import { scanClusters } from '../shared/monitor/segment-scan.js';
import { sweep } from '../shared/monitor/sweep.js';
import { openS3Source } from '../shared/sources/s3-source.js';
import { createDocumentClient } from '../shared/store/client.js';
import { getClusterState, putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';

const NAMESPACE = 'walwatch';
const config = readMonitorConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-sweeper' });
const metrics = new Metrics({ namespace: NAMESPACE, serviceName: 'walwatch' });
const db = createDocumentClient();
const sns = new SNSClient({});
const data = createDynamoMonitorData(db, config.tableName);
const policy = config.readContent;
const content =
  widestContentMode(policy) !== 'off' && config.bucket
    ? {
        getState: (id: string) => getClusterState(db, config.tableName, id),
        putState: (state: ClusterState, ver: number) => putClusterState(db, config.tableName, state, ver),
        source: openS3Source({ bucket: config.bucket, prefix: '' }, new S3Client({})),
        now: Date.now,
      }
    : undefined;

/** Alerts that could not be published stay in the outbox; the run still fails so alarms see it. */
export class AlertPublishError extends Error {
  override readonly name = 'AlertPublishError';
}

function emitMetrics(cluster: string | null, values: ClusterMetrics): void {
  const target =
    cluster === null
      ? metrics
      : new Metrics({
          namespace: NAMESPACE,
          serviceName: 'walwatch',
          defaultDimensions: { Cluster: cluster },
        });
  for (const [name, value] of Object.entries(values)) {
    target.addMetric(name, name.endsWith('Seconds') ? MetricUnit.Seconds : MetricUnit.Count, value as number);
  }
  if (cluster !== null) target.publishStoredMetrics();
}

/** Time kept for the sweep itself when the content scan runs first. */
const SWEEP_RESERVE_MS = 20_000;

async function runSweep(_event: unknown, context: Context): Promise<{ clusters: number; sent: number }> {
  const deadline = Date.now() + Math.max(0, context.getRemainingTimeInMillis() - SWEEP_RESERVE_MS);
  /** Content reads before the analyses: chain ends of the clusters due, the scan of any in mode `all`. */
  const readContent = async (due: readonly string[], all: readonly string[]): Promise<void> => {
    if (!content) return;
    // Ingest reads new chain ends as WAL arrives; this catches what it left (deadline, conflicts, errors).
    const refreshed = await refreshChainCommitsOf(content, policy, [...due], deadline);
    for (const [clusterId, outcome] of refreshed) {
      if (outcome.errors.length > 0)
        logger.warn('segment content unreadable', { clusterId, errors: outcome.errors });
    }
    const scanned = all.filter((clusterId) => contentModeFor(policy, clusterId) === 'all');
    if (scanned.length === 0) return;
    // The deadline, not the count, bounds a run: a segment costs ~0.1–0.3 s to fetch, decompress and scan.
    const scans = await scanClusters({ ...content, db, table: config.tableName }, scanned, {
      deadline,
      maxReads: 500,
    });
    for (const [clusterId, scan] of scans) {
      metrics.addMetric('SegmentsScanned', MetricUnit.Count, scan.read);
      if (scan.defects.length > 0 || scan.errors.length > 0)
        logger.warn('segment content scan', { clusterId, defects: scan.defects, errors: scan.errors });
    }
  };
  const result = await sweep({
    data,
    now: Date.now,
    emitMetrics,
    thresholds: config.thresholds,
    ...(config.drills ? { drills: config.drills } : {}),
    ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}),
    beforeAnalysis: readContent,
    publish: async (notification) => {
      if (!config.alertTopicArn) {
        logger.warn('no alert topic configured', { subject: notification.subject });
        return;
      }
      await sns.send(
        new PublishCommand({
          TopicArn: config.alertTopicArn,
          Subject: notification.subject,
          Message: notification.body,
        }),
      );
    },
  });
  // Liveness: an alarm on this metric with missing data breaching fires when sweeps stop.
  metrics.addMetric('SweeperRuns', MetricUnit.Count, 1);
  logger.info('sweep finished', {
    clusters: result.clusters,
    analyzed: result.analyzed,
    removed: result.removed,
    sent: result.sent,
    conflicts: result.conflicts,
  });
  if (result.publishFailures > 0) {
    throw new AlertPublishError(
      `${result.publishFailures} alert(s) could not be published; they stay queued for the next sweep`,
    );
  }
  return { clusters: result.clusters, sent: result.sent.length };
}

/** Lambda entry point. */
export const handler = middy(runSweep).use(injectLambdaContext(logger)).use(logMetrics(metrics));
