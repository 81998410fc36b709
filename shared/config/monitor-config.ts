/**
 * Settings of the API and sweeper functions, read from the environment in one place and typed.
 */
import type { DrillExpectations } from '../api/reports.js';
import type { Thresholds } from '../core/config.js';
import { DEFAULT_DRILL_STALE_AFTER_MS } from '../core/drill-status.js';
import { parseDuration } from '../core/duration.js';
import { ClusterSettingError, parseClusterSetting, settingFor } from './cluster-setting.js';
import { type ContentPolicy, ContentPolicyError, parseContentPolicy } from './content-policy.js';
import { ENV } from './env.js';

/** What the API and sweeper need to know about their deployment. */
export interface MonitorConfig {
  readonly tableName: string;
  readonly bucket?: string;
  readonly alertTopicArn?: string;
  readonly apiUrl?: string;
  readonly thresholds: Partial<Thresholds>;
  /** Which segment bodies to read, per cluster (`WALWATCH_READ_CONTENT`, default `chain-ends`). */
  readonly readContent: ContentPolicy;
  /** Clusters whose restore drills are expected (`WALWATCH_DRILL_CLUSTERS`), for `drill-stale`. */
  readonly drills?: DrillExpectations;
}

/** A required setting is missing or malformed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads `WALWATCH_READ_CONTENT`, the per-cluster segment content policy. */
export function readContentPolicy(env: Readonly<Record<string, string | undefined>>): ContentPolicy {
  try {
    return parseContentPolicy(env[ENV.readContent], ENV.readContent);
  } catch (error) {
    if (error instanceof ContentPolicyError) throw new ConfigError(error.message);
    throw error;
  }
}

/** Reads a duration setting such as `90s`, `5m`, `26h` into milliseconds. */
export function readDurationMs(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined)
    throw new ConfigError(`${name} must be a duration such as 90s, 5m or 26h, got ${JSON.stringify(text)}`);
  return ms;
}

/** Reads the monitor settings; throws `ConfigError` naming the variable when one is wrong. */
export function readMonitorConfig(env: Record<string, string | undefined>): MonitorConfig {
  const tableName = env[ENV.tableName];
  if (!tableName) throw new ConfigError(`${ENV.tableName} is not set`);
  const thresholds: { -readonly [K in keyof Thresholds]?: number } = {};
  const durations: Array<[keyof Thresholds, string]> = [
    ['gapGraceMs', ENV.gapGrace],
    ['maxArchiveAgeMs', ENV.maxArchiveAge],
    ['maxBackupAgeMs', ENV.maxBackupAge],
    ['backupStaleAfterMs', ENV.backupStaleAfter],
  ];
  for (const [field, name] of durations) {
    const value = env[name];
    if (value) thresholds[field] = readDurationMs(name, value);
  }
  const optional = (name: string): Record<string, string> =>
    env[name] ? { [name]: env[name] as string } : {};
  const readContent = readContentPolicy(env);
  const drills = readDrillExpectations(env);
  return {
    tableName,
    thresholds,
    readContent,
    ...(drills ? { drills } : {}),
    ...renamed(optional(ENV.archiveBucketName), 'bucket'),
    ...renamed(optional(ENV.alertTopicArn), 'alertTopicArn'),
    ...renamed(optional(ENV.apiUrl), 'apiUrl'),
  };
}

/**
 * Reads `WALWATCH_DRILL_CLUSTERS` (`on`, `off`, or a default with overrides, `off; on=spilo/orders/*`) and
 * `WALWATCH_DRILL_STALE_AFTER` (default 72h); `undefined` when no cluster expects drills. A cluster without
 * any drill record yet is not stale: the count starts at its first drill.
 */
export function readDrillExpectations(
  env: Readonly<Record<string, string | undefined>>,
): DrillExpectations | undefined {
  let setting: ReturnType<typeof parseClusterSetting<boolean>>;
  try {
    setting = parseClusterSetting(
      env[ENV.drillClusters],
      ENV.drillClusters,
      (text, name) => {
        if (text === 'on') return true;
        if (text === 'off') return false;
        throw new ClusterSettingError(`${name} must be on or off, got ${JSON.stringify(text)}`);
      },
      false,
    );
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (!setting.default && !setting.clusters.some((entry) => entry.value)) return undefined;
  const stale = env[ENV.drillStaleAfter];
  const staleAfterMs = stale ? readDurationMs(ENV.drillStaleAfter, stale) : DEFAULT_DRILL_STALE_AFTER_MS;
  return (clusterId) => (settingFor(setting, clusterId) ? { staleAfterMs } : undefined);
}

function renamed(value: Record<string, string>, field: string): Record<string, string> {
  const [only] = Object.values(value);
  return only === undefined ? {} : { [field]: only };
}
