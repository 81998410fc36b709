/**
 * How often the local monitor restores each cluster in a drill, written in the syntax of
 * `cluster-setting.ts` (`serve --drill-every`, `WALWATCH_DRILL_EVERY`): a default period or `off`, then
 * overrides by cluster id pattern.
 *
 * @example
 * parseDrillPolicy('24h; off=spilo/scratch/*; 6h=spilo/orders/*', '--drill-every')
 * // { default: 86400000, clusters: [{ pattern: 'spilo/scratch/*', value: 'off' }, …] }
 */
import { parseDuration } from '../core/duration.js';
import {
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  settingValues,
} from './cluster-setting.js';

/** A drill period in milliseconds, or `off`. */
export type DrillEvery = number | 'off';

/** A default period and the clusters that differ from it. */
export type DrillPolicy = ClusterSetting<DrillEvery>;

/** Drills for no cluster. */
export const DRILLS_OFF: DrillPolicy = { default: 'off', clusters: [] };

/** The period the local monitor uses when PostgreSQL binaries are found and nothing is set. */
export const DEFAULT_DRILL_EVERY_MS = 24 * 3_600_000;

/** The shortest period accepted: a drill restores a whole backup. */
export const MIN_DRILL_EVERY_MS = 60_000;

/** Reads one period (`24h`, `90m`, `7d`) or `off`. */
export function parseDrillEvery(text: string, name: string): DrillEvery {
  if (text === 'off') return 'off';
  const ms = parseDuration(text);
  if (ms === undefined || ms < MIN_DRILL_EVERY_MS)
    throw new ClusterSettingError(
      `${name} must be off or a duration of at least 1m such as 24h, got ${JSON.stringify(text)}`,
    );
  return ms;
}

/**
 * Reads a drill policy; an empty or missing setting is `fallback` for every cluster.
 *
 * @throws {ClusterSettingError} on a bad period, an empty or repeated pattern, or two defaults
 */
export function parseDrillPolicy(text: string | undefined, name: string, fallback: DrillEvery): DrillPolicy {
  return parseClusterSetting(text, name, parseDrillEvery, fallback, 'period');
}

/** The policy in the setting's syntax, as `parseDrillPolicy` reads it back. */
export function formatDrillPolicy(policy: DrillPolicy): string {
  return formatClusterSetting(policy, formatDrillEvery);
}

/** A period as the setting writes it: `off`, or whole hours, minutes or seconds (`24h`, `90m`). */
export function formatDrillEvery(every: DrillEvery): string {
  if (every === 'off') return 'off';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (every % size === 0) return `${every / size}${unit}`;
  }
  return `${every / 1000}s`;
}

/** Whether any cluster may get drills. */
export function drillsConfigured(policy: DrillPolicy): boolean {
  return settingValues(policy).some((every) => every !== 'off');
}
