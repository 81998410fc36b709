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
  /** Which segment bodies to read (`WALWATCH_READ_CONTENT`, default `chain-ends`). */
  readonly readContent: ContentMode;
}

/**
 * Which segment bodies the monitor reads: none; the segment at the end of each recovery chain, for exact
 * last commit times; or every archived segment too, to store each one's summary and find segments
 * recovery cannot read.
 */
export type ContentMode = 'off' | 'chain-ends' | 'all';

/** Reads a content mode; `true` and `false` are accepted for `chain-ends` and `off`. */
export function parseContentMode(text: string | undefined, name: string = ENV.readContent): ContentMode {
  if (text === undefined || text === '' || text === 'true' || text === 'chain-ends') return 'chain-ends';
  if (text === 'false' || text === 'off') return 'off';
  if (text === 'all') return 'all';
  throw new ConfigError(`${name} must be off, chain-ends or all, got ${JSON.stringify(text)}`);
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
  const readContent = parseContentMode(env[ENV.readContent]);
  return {
    tableName,
    thresholds,
    readContent,
    ...renamed(optional(ENV.archiveBucketName), 'bucket'),
    ...renamed(optional(ENV.alertTopicArn), 'alertTopicArn'),
    ...renamed(optional(ENV.apiUrl), 'apiUrl'),
  };
}

function renamed(value: Record<string, string>, field: string): Record<string, string> {
  const [only] = Object.values(value);
  return only === undefined ? {} : { [field]: only };
}
