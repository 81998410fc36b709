/**
 * The scheduled drill task on AWS (`functions/drill-task.ts`, an ECS Fargate task): restores each
 * configured cluster in turn from the archive bucket with the drill engine and writes every record
 * through the store, so the sweeper's alerts, the API and the dashboard see it. Drills run one after the
 * other; a drill that cannot run at all is stored as `failed` with the error as its reason.
 */

import { settingFor } from '../config/cluster-setting.js';
import { ENV } from '../config/env.js';
import { parseSegmentSizes } from '../config/segment-sizes.js';
import type { DrillRecord } from '../core/drill.js';
import type { SegmentSizeSetting } from '../core/segment-size.js';
import type { RunDrillOptions } from './run-drill.js';

/** The task's settings, read from its container environment. */
export interface DrillTaskConfig {
  readonly tableName: string;
  readonly bucket: string;
  /** Cluster ids to drill, in order. */
  readonly clusters: readonly string[];
  /** `latest`, an ISO time or an LSN. */
  readonly target: string;
  readonly segmentSizeOf: (clusterId: string) => SegmentSizeSetting;
  /** The server binaries of the image. */
  readonly pgBin?: string;
}

/** A setting of the task is missing or malformed. */
export class DrillTaskConfigError extends Error {
  override readonly name = 'DrillTaskConfigError';
}

/** Reads the task's settings; throws `DrillTaskConfigError` naming the variable. */
export function readDrillTaskConfig(env: Readonly<Record<string, string | undefined>>): DrillTaskConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new DrillTaskConfigError(`${name} is not set`);
    return value;
  };
  const clusters = required(ENV.drillTargets)
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (clusters.length === 0) throw new DrillTaskConfigError(`${ENV.drillTargets} names no cluster`);
  let sizes: ReturnType<typeof parseSegmentSizes>;
  try {
    sizes = parseSegmentSizes(env[ENV.segmentSize], ENV.segmentSize);
  } catch (error) {
    throw new DrillTaskConfigError((error as Error).message);
  }
  return {
    tableName: required(ENV.tableName),
    bucket: required(ENV.archiveBucketName),
    clusters,
    target: env[ENV.drillTarget]?.trim() || 'latest',
    segmentSizeOf: (clusterId) => settingFor(sizes, clusterId),
    ...(env.WALWATCH_PG_BIN ? { pgBin: env.WALWATCH_PG_BIN } : {}),
  };
}

/** What the task needs from its host. */
export interface DrillTaskDependencies {
  readonly runDrill: (options: RunDrillOptions) => Promise<DrillRecord>;
  readonly putDrill: (record: DrillRecord) => Promise<void>;
  readonly now: () => number;
  readonly log: (line: string, fields?: Record<string, unknown>) => void;
}

/** Drills every configured cluster, one at a time, and stores each record; returns them. */
export async function runDrillTask(
  config: DrillTaskConfig,
  deps: DrillTaskDependencies,
): Promise<DrillRecord[]> {
  const records: DrillRecord[] = [];
  for (const cluster of config.clusters) {
    const startedAt = deps.now();
    deps.log('restore drill starting', { cluster, target: config.target });
    const record = await deps
      .runDrill({
        archive: { kind: 's3', bucket: config.bucket, prefix: '' },
        cluster,
        target: config.target,
        segmentSize: config.segmentSizeOf(cluster),
        ...(config.pgBin ? { pgBin: config.pgBin } : {}),
        onProgress: (event) => deps.log('restore drill progress', { cluster, ...event }),
        now: deps.now,
      })
      .catch((error: unknown) => unrunnableDrill(cluster, config.target, startedAt, deps.now(), error));
    await deps.putDrill(record);
    deps.log('restore drill finished', {
      cluster,
      verdict: record.verdict,
      reason: record.reason,
      backup: record.backup,
    });
    records.push(record);
  }
  return records;
}

/** The record of a drill that could not run at all. */
export function unrunnableDrill(
  cluster: string,
  target: string,
  startedAt: number,
  finishedAt: number,
  error: unknown,
): DrillRecord {
  const none = { timeline: null, lsn: null, lastCommitTime: null };
  return {
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    cluster,
    target,
    backup: null,
    verdict: 'failed',
    predicted: none,
    reached: none,
    consistentLsn: null,
    checkResult: null,
    reason: `the drill could not run: ${error instanceof Error ? error.message : String(error)}`,
    logTail: null,
    downloadedBytes: 0,
  };
}
