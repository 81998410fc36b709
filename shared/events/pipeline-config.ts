/**
 * The event pipeline's configuration, read once from the environment the CDK app sets (`ENV`).
 */
import { ClusterSettingError } from '../config/cluster-setting.js';
import type { ContentPolicy } from '../config/content-policy.js';
import { ENV } from '../config/env.js';
import { ConfigError, readContentPolicy } from '../config/monitor-config.js';
import { parseSegmentSizes, type SegmentSizes } from '../config/segment-sizes.js';

/** What ingest and reconcile need to know. */
export interface PipelineConfig {
  readonly bucket: string;
  readonly table: string;
  /** WAL segment size of each cluster, in bytes or `auto` (`WALWATCH_SEGMENT_SIZE`, default `auto`). */
  readonly segmentSizes: SegmentSizes;
  /** Archive roots to adopt even before any event named them (`WALWATCH_ARCHIVE_ROOTS`), without `/`. */
  readonly archiveRoots: readonly string[];
  /** Which segment bodies ingest reads (`WALWATCH_READ_CONTENT`): the chain ends of clusters not `off`. */
  readonly readContent: ContentPolicy;
}

/**
 * Reads the configuration.
 *
 * @throws {ConfigError} naming the variable and the bad value
 */
export function readPipelineConfig(env: Readonly<Record<string, string | undefined>>): PipelineConfig {
  const bucket = required(env, ENV.archiveBucketName);
  const table = required(env, ENV.tableName);
  const segmentSizes = readSegmentSizes(env);
  const archiveRoots = (env[ENV.archiveRoots] ?? '')
    .split(',')
    .map((root) => root.trim().replace(/\/+$/, ''))
    .filter((root) => root !== '');
  return { bucket, table, segmentSizes, archiveRoots, readContent: readContentPolicy(env) };
}

function readSegmentSizes(env: Readonly<Record<string, string | undefined>>): SegmentSizes {
  try {
    return parseSegmentSizes(env[ENV.segmentSize], ENV.segmentSize);
  } catch (error) {
    if (error instanceof ClusterSettingError) throw new ConfigError(error.message);
    throw error;
  }
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}
