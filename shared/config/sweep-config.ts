/**
 * Settings of a sharded sweep, read from the environment in one place: which clusters get metrics of their
 * own, and when and how the sweeper fans out to the sweep worker.
 */

import { type ClusterMetricsPolicy, parseClusterMetricsPolicy } from './cluster-metrics.js';
import { ClusterSettingError } from './cluster-setting.js';
import { ENV } from './env.js';
import { ConfigError } from './monitor-config.js';

/** How the sweeper splits the fleet. */
export interface SweepConfig {
  readonly clusterMetrics: ClusterMetricsPolicy;
  /** Where shards go; without it the sweeper sweeps every cluster itself. */
  readonly queueUrl?: string;
  /** Fleet size above which shards go to the queue. */
  readonly fanOutAbove: number;
  /** Clusters per shard. */
  readonly shardSize: number;
}

/** Default fleet size above which the sweeper fans out: 1,000 clusters sweep in a few seconds in one run. */
export const DEFAULT_FAN_OUT_ABOVE = 1000;
/** Default clusters per shard: ~1,000 requests, a few seconds of one worker. */
export const DEFAULT_SHARD_SIZE = 250;

/** Reads the sweep settings. @throws {ConfigError} naming the variable and the bad value */
export function readSweepConfig(env: Readonly<Record<string, string | undefined>>): SweepConfig {
  let clusterMetrics: ClusterMetricsPolicy;
  try {
    clusterMetrics = parseClusterMetricsPolicy(env[ENV.clusterMetrics], ENV.clusterMetrics);
  } catch (error) {
    if (error instanceof ClusterSettingError) throw new ConfigError(error.message);
    throw error;
  }
  const queueUrl = env[ENV.sweepQueueUrl];
  return {
    clusterMetrics,
    ...(queueUrl ? { queueUrl } : {}),
    fanOutAbove: wholeNumber(env, ENV.sweepFanOutAbove, DEFAULT_FAN_OUT_ABOVE, 0),
    shardSize: wholeNumber(env, ENV.sweepShardSize, DEFAULT_SHARD_SIZE, 1),
  };
}

function wholeNumber(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
): number {
  const text = env[name];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(`${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}
