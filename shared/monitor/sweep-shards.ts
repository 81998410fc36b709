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
 * A shard is `sweep` over its clusters: those due are analysed (selective re-analysis), their rows written.
 * Fleet-wide metrics are per shard: maxima that CloudWatch's `Maximum` combines, counts that its `Sum` adds
 * up; orphan rows and the fleet counts item are the planning sweeper's (`planFanOut`).
 */
import { z } from 'zod';
import type { MonitorData } from '../api/monitor-data.js';
import type { FleetCounts } from '../core/fleet-row.js';
import { countFleetRows, type FleetRow } from '../core/fleet-row.js';
import {
  isDue,
  removeOrphanRows,
  type SweepDependencies,
  type SweepResult,
  sweep,
  writeFleetCounts,
} from './sweep.js';

/** Options of one shard's sweep. */
export interface ShardSweepOptions {
  /** Clusters analysed at the same time. @default 16 */
  readonly concurrency?: number;
  /** Whether a cluster's own metrics (the `Cluster` dimension) are emitted. @default every cluster */
  readonly clusterMetrics?: (clusterId: string) => boolean;
}

/** What one shard's sweep did. */
export type ShardSweepResult = SweepResult & { readonly counts: FleetCounts };

/**
 * Sweeps the given clusters at `deps.now()` as `sweep` sweeps a fleet: analyses those due, settles their
 * alerts, writes their rows, emits their metrics if wanted and the shard's fleet metrics once.
 *
 * @example
 * const result = await sweepClusters(deps, ['spilo/a/wal/15', 'spilo/b/wal/15'], { concurrency: 8 });
 */
export async function sweepClusters(
  deps: SweepDependencies,
  clusterIds: readonly string[],
  options: ShardSweepOptions = {},
): Promise<ShardSweepResult> {
  return sweep({
    ...deps,
    clusterIds,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.clusterMetrics === undefined ? {} : { clusterMetrics: options.clusterMetrics }),
  });
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

/**
 * What the sweeper does itself when it fans out: reads every row once (one `BatchGetItem` per 100), writes
 * the fleet counts item from them (the rows of the previous minute's shards), removes orphan rows, and
 * splits the fleet into shards. The clusters due are returned for the content reads that precede analyses.
 */
export async function planFanOut(
  data: MonitorData,
  clusterIds: readonly string[],
  now: number,
  shardSize: number,
): Promise<{ readonly due: string[]; readonly shards: SweepShardMessage[] }> {
  const stored = await data.getFleetRows(clusterIds);
  const rows: FleetRow[] = [];
  for (const entry of stored.values()) if (entry.row) rows.push(entry.row);
  await writeFleetCounts(data, countFleetRows(rows), now);
  await removeOrphanRows(data, new Set(clusterIds));
  return {
    due: clusterIds.filter((id) => isDue(stored.get(id), now)),
    shards: planShards(clusterIds, now, shardSize),
  };
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
