/**
 * The sweep worker: sweeps the shards of a large fleet that the sweeper sends over SQS, one shard per
 * message, at the time it runs. Alert transitions go to SNS exactly once per decision, whichever shard or
 * delivery of a shard settles a cluster first (see `shared/monitor/sweep-shards.ts`); fleet-wide metrics are
 * the shard's (maxima for `Maximum`, status counts for `Sum`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SNSClient } from '@aws-sdk/client-sns';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { clusterMetricsWanted } from '../shared/config/cluster-metrics.js';
import { readMonitorConfig } from '../shared/config/monitor-config.js';
import { readSweepConfig } from '../shared/config/sweep-config.js';
import { createEmfEmitter, METRICS_NAMESPACE } from '../shared/monitor/emf-metrics.js';
import { createSnsPublisher } from '../shared/monitor/sns-publisher.js';
import { parseShardMessage, sweepClusters } from '../shared/monitor/sweep-shards.js';
import { createDocumentClient } from '../shared/store/client.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';

const config = readMonitorConfig(process.env);
const sweepConfig = readSweepConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-sweep-worker' });
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'walwatch' });
const data = createDynamoMonitorData(createDocumentClient(), config.tableName);
const publish = createSnsPublisher(new SNSClient({}), config.alertTopicArn, (message, extra) =>
  logger.warn(message, extra),
);
const emitMetrics = createEmfEmitter(metrics);

/** A shard older than this is left to the next sweep, which covers the same clusters. */
const MAX_SHARD_AGE_MS = 3 * 60_000;

/** Alerts of a shard could not be published; they stay in the outbox and the message is retried. */
export class ShardPublishError extends Error {
  override readonly name = 'ShardPublishError';
}

async function sweepShards(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      const shard = parseShardMessage(record.body);
      if (Date.now() - shard.plannedAt > MAX_SHARD_AGE_MS) {
        logger.warn('sweep shard too old, left to the next sweep', {
          shard: shard.shard,
          plannedAt: shard.plannedAt,
        });
        continue;
      }
      const result = await sweepClusters(
        {
          data,
          now: Date.now,
          emitMetrics,
          publish,
          thresholds: config.thresholds,
          ...(config.drills ? { drills: config.drills } : {}),
          ...(config.apiUrl ? { apiUrl: config.apiUrl } : {}),
        },
        shard.clusters,
        { clusterMetrics: (id) => clusterMetricsWanted(sweepConfig.clusterMetrics, id, shard.fleetSize) },
      );
      metrics.addMetric('SweepShardsDone', MetricUnit.Count, 1);
      logger.info('sweep shard finished', {
        shard: shard.shard,
        shards: shard.shards,
        clusters: result.clusters,
        sent: result.sent,
        conflicts: result.conflicts,
      });
      if (result.publishFailures > 0)
        throw new ShardPublishError(
          `${result.publishFailures} alert(s) of shard ${shard.shard} could not be published`,
        );
    } catch (error) {
      logger.error('sweep shard failed', { messageId: record.messageId, error: error as Error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}

/** Lambda entry point. */
export const handler = middy(sweepShards).use(injectLambdaContext(logger)).use(logMetrics(metrics));
