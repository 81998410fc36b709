/**
 * Settings of the API and sweeper functions, read from the environment in one place and typed.
 */
import type { Thresholds } from '../core/config.js';
import { parseDuration } from '../core/duration.js';
import { ENV } from './env.js';

/** What the API and sweeper need to know about their deployment. */
export interface MonitorConfig {
  readonly tableName: string;
  readonly bucket?: string;
  readonly alertTopicArn?: string;
  readonly apiUrl?: string;
  readonly thresholds: Partial<Thresholds>;
  /** Read chain-end segments for exact commit times (on unless `WALWATCH_READ_CONTENT=false`). */
  readonly readContent: boolean;
}

/** A required setting is missing or malformed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
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
  const readContent = env[ENV.readContent];
  if (readContent !== undefined && readContent !== 'true' && readContent !== 'false') {
    throw new ConfigError(`${ENV.readContent} must be true or false, got ${JSON.stringify(readContent)}`);
  }
  return {
    tableName,
    thresholds,
    readContent: readContent !== 'false',
    ...renamed(optional(ENV.archiveBucketName), 'bucket'),
    ...renamed(optional(ENV.alertTopicArn), 'alertTopicArn'),
    ...renamed(optional(ENV.apiUrl), 'apiUrl'),
  };
}

function renamed(value: Record<string, string>, field: string): Record<string, string> {
  const [only] = Object.values(value);
  return only === undefined ? {} : { [field]: only };
}
