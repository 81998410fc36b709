/**
 * The event pipeline's configuration, read once from the environment the CDK app sets (`ENV`).
 */
import type { ContentPolicy } from '../config/content-policy.js';
import { ENV } from '../config/env.js';
import { ConfigError, readContentPolicy } from '../config/monitor-config.js';
import { DEFAULT_SEGMENT_SIZE, isValidSegmentSize } from '../core/lsn.js';

/** What ingest and reconcile need to know. */
export interface PipelineConfig {
  readonly bucket: string;
  readonly table: string;
  readonly segmentSize: number;
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
  const sizeText = env[ENV.segmentSize];
  const segmentSize = sizeText ? Number(sizeText) : DEFAULT_SEGMENT_SIZE;
  if (!isValidSegmentSize(segmentSize)) {
    throw new ConfigError(
      `${ENV.segmentSize}=${JSON.stringify(sizeText)} is not a power of two from 1 MiB to 1 GiB`,
    );
  }
  const archiveRoots = (env[ENV.archiveRoots] ?? '')
    .split(',')
    .map((root) => root.trim().replace(/\/+$/, ''))
    .filter((root) => root !== '');
  return { bucket, table, segmentSize, archiveRoots, readContent: readContentPolicy(env) };
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}
