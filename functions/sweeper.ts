/**
 * The sweeper, scheduled every minute: reads the segments at the ends of recovery chains that ingest has
 * not read yet (exact last commit times, for clusters `WALWATCH_READ_CONTENT` does not turn off) and, for
 * clusters it sets to `all`, every new segment (summaries, defects); then re-analyses, 16 at a time, the
 * clusters whose state changed or whose next threshold crossing has come (`shared/monitor/sweep.ts`),
 * emits freshness metrics as CloudWatch Embedded Metric Format (per cluster with the `Cluster` dimension for
 * the clusters `WALWATCH_CLUSTER_METRICS` selects, fleet-wide maxima and status counts without it), sends
 * alert transitions to SNS exactly once per decision, and keeps the fleet summary rows and counts right.
 * Above `WALWATCH_SWEEP_FAN_OUT_ABOVE` clusters it sends shards of the fleet to the sweep worker instead.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { clusterMetricsWanted } from '../shared/config/cluster-metrics.js';
import { contentModeFor, widestContentMode } from '../shared/config/content-policy.js';
import { readMonitorConfig } from '../shared/config/monitor-config.js';
import { readSweepConfig } from '../shared/config/sweep-config.js';
import type { ClusterState } from '../shared/core/state.js';
import { sendMessages } from '../shared/events/queue-messages.js';
import { refreshChainCommitsOf } from '../shared/monitor/chain-content.js';
import { createEmfEmitter, METRICS_NAMESPACE } from '../shared/monitor/emf-metrics.js';
import { scanClusters } from '../shared/monitor/segment-scan.js';
import { createSnsPublisher } from '../shared/monitor/sns-publisher.js';
import { planFanOut, sweepClusters } from '../shared/monitor/sweep-shards.js';
import { openS3Source } from '../shared/sources/s3-source.js';
import { createDocumentClient } from '../shared/store/client.js';
import { getClusterState, putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';

const config = readMonitorConfig(process.env);
const sweepConfig = readSweepConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-sweeper' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'walwatch' });
const db = createDocumentClient();
const sns = new SNSClient({});
const sqs = new SQSClient({});
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

const emitMetrics = createEmfEmitter(metrics);

const publishAlert = createSnsPublisher(sns, config.alertTopicArn, (message, extra) =>
  logger.warn(message, extra),
);

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
  const ids = await data.listClusterIds();
  if (sweepConfig.queueUrl && ids.length > sweepConfig.fanOutAbove) {
    // A large fleet: the sweep worker sweeps the shards, several at a time; alerts stay exactly-once per
    // cluster through its alert-state item, whichever shard or delivery gets there.
    const plan = await planFanOut(data, ids, Date.now(), sweepConfig.shardSize);
    await readContent(plan.due, ids);
    await sendMessages(
      sqs,
      sweepConfig.queueUrl,
      plan.shards.map((shard) => JSON.stringify(shard)),
    );
    metrics.addMetric('SweeperRuns', MetricUnit.Count, 1);
    metrics.addMetric('SweepShards', MetricUnit.Count, plan.shards.length);
    logger.info('sweep fanned out', {
      clusters: ids.length,
      due: plan.due.length,
      shards: plan.shards.length,
    });
    return { clusters: ids.length, sent: 0 };
  }
  const result = await sweepClusters(
    {
      data,
      now: Date.now,
      emitMetrics,
      thresholds: config.thresholds,
      ...(config.drills ? { drills: config.drills } : {}),
      ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}),
      beforeAnalysis: readContent,
      publish: publishAlert,
    },
    ids,
    { clusterMetrics: (id) => clusterMetricsWanted(sweepConfig.clusterMetrics, id, ids.length) },
  );
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
