/**
 * A sweep in shards: the clusters of one sweep split into shards of a bounded size, each swept by a bounded
 * pool of concurrent cluster sweeps, in the sweeper itself or, above a fleet size, by the sweep worker that
 * the sweeper fans the shards out to over SQS.
 *
 * Alerts stay exactly-once across shards for the reason they do across sweeps: every decision about a
 * cluster goes through `settleAlerts`, whose conditional write on the cluster's alert-state item lets one
 * writer decide each transition and claim its notification in the item's outbox; a shard delivered twice,
 * or two shards of overlapping sweeps, race on that item and the loser re-reads the decision. A sweep at an
 * earlier time than the item's last decision decides nothing (`decidedAt`).
 *
 * Shards keep no reports: per cluster, the metrics and status only, so a shard's memory does not grow with
 * the reports' size. Fleet-wide metrics are per shard: maxima that CloudWatch's `Maximum` combines, counts
 * that its `Sum` adds up.
 */
import { z } from 'zod';
import { loadClusterReport } from '../api/reports.js';
import type { AlertNotification } from '../core/alerts.js';
import {
  type ClusterMetrics,
  clusterMetrics,
  type FleetMetrics,
  fleetMetricsOf,
  statusCounts,
} from '../core/metrics.js';
import type { Status } from '../core/report.js';
import type { SweepDependencies } from './sweep.js';
import { settleAlerts } from './sweep.js';

/** Options of one shard's sweep. */
export interface ShardSweepOptions {
  /** Clusters swept at the same time. @default 16 */
  readonly concurrency?: number;
  /** Whether a cluster's own metrics (the `Cluster` dimension) are emitted. @default every cluster */
  readonly clusterMetrics?: (clusterId: string) => boolean;
}

/** What one shard's sweep did. */
export interface ShardSweepResult {
  /** Clusters with a state (an id whose state is gone is skipped). */
  readonly clusters: number;
  readonly sent: AlertNotification['transition'][];
  readonly publishFailures: number;
  readonly conflicts: number;
  /** What was emitted without the `Cluster` dimension. */
  readonly fleet: FleetMetrics;
}

/**
 * Sweeps the given clusters at `deps.now()`: re-analyses each, emits its metrics if wanted, settles its
 * alerts; then emits the shard's fleet-wide metrics once.
 *
 * @example
 * const result = await sweepClusters(deps, ['spilo/a/wal/15', 'spilo/b/wal/15'], { concurrency: 8 });
 */
export async function sweepClusters(
  deps: SweepDependencies,
  clusterIds: readonly string[],
  options: ShardSweepOptions = {},
): Promise<ShardSweepResult> {
  const now = deps.now();
  const wanted = options.clusterMetrics ?? (() => true);
  const metrics: ClusterMetrics[] = [];
  const statuses: Status[] = [];
  const sent: AlertNotification['transition'][] = [];
  let publishFailures = 0;
  let conflicts = 0;
  await forEachBounded(clusterIds, options.concurrency ?? 16, async (clusterId) => {
    const report = await loadClusterReport(deps.data, clusterId, now, deps.thresholds);
    if (!report) return;
    const values = clusterMetrics(report);
    metrics.push(values);
    statuses.push(report.status);
    if (wanted(clusterId)) deps.emitMetrics(clusterId, values);
    const outcome = await settleAlerts(deps, report, now);
    sent.push(...outcome.sent);
    publishFailures += outcome.publishFailures;
    conflicts += outcome.conflicts;
  });
  const fleet: FleetMetrics = { ...fleetMetricsOf(metrics), ...statusCounts(statuses) };
  deps.emitMetrics(null, fleet);
  return { clusters: metrics.length, sent, publishFailures, conflicts, fleet };
}

/** Runs `work` for every item with at most `limit` running at once; the first failure fails the whole. */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

/** One shard of a fanned-out sweep, as the SQS message body carries it. */
export interface SweepShardMessage {
  /** Epoch ms the sweep was planned at; a worker drops shards older than `maxShardAgeMs`. */
  readonly plannedAt: number;
  readonly shard: number;
  readonly shards: number;
  /** Size of the whole fleet, for the `auto` per-cluster metrics policy. */
  readonly fleetSize: number;
  readonly clusters: readonly string[];
}

/** SQS bodies are at most 256 KiB; cluster ids at most 1 KiB each. */
const MAX_SHARD_BYTES = 200_000;

/**
 * Splits a fleet into shards of at most `shardSize` clusters (fewer when the ids are long, so a message
 * stays within SQS's body limit), in id order.
 */
export function planShards(
  clusterIds: readonly string[],
  plannedAt: number,
  shardSize: number,
): SweepShardMessage[] {
  const groups: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const id of clusterIds) {
    const size = Buffer.byteLength(id) + 3;
    if (current.length >= shardSize || (current.length > 0 && bytes + size > MAX_SHARD_BYTES)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(id);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups.map((clusters, shard) => ({
    plannedAt,
    shard,
    shards: groups.length,
    fleetSize: clusterIds.length,
    clusters,
  }));
}

const SHARD_MESSAGE = z.object({
  plannedAt: z.number().int().nonnegative(),
  shard: z.number().int().nonnegative(),
  shards: z.number().int().positive(),
  fleetSize: z.number().int().nonnegative(),
  clusters: z.array(z.string().min(1).max(1024)).max(10_000),
});

/** A message body is not a sweep shard; the message goes to the dead-letter queue and loses nothing. */
export class SweepShardMessageError extends Error {
  override readonly name = 'SweepShardMessageError';
}

/** Reads a shard message body. @throws {SweepShardMessageError} naming what is wrong */
export function parseShardMessage(body: string): SweepShardMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new SweepShardMessageError('sweep shard message is not JSON', { cause: error });
  }
  const parsed = SHARD_MESSAGE.safeParse(json);
  if (!parsed.success)
    throw new SweepShardMessageError(`sweep shard message is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
