/**
 * Which clusters get CloudWatch metrics of their own (the `Cluster` dimension). Each custom metric costs
 * $0.30 a month, five per cluster, so per-cluster metrics are for the clusters someone alarms on; the
 * fleet-wide metrics (maxima and status counts) are always emitted, and the local monitor's Prometheus
 * endpoint keeps every cluster's series.
 *
 * Written as one setting (`WALWATCH_CLUSTER_METRICS`, the CDK prop `clusterMetrics`) in the syntax of
 * `cluster-setting.ts`: `on`, `off` or `auto`, then overrides by cluster id pattern. `auto` (the default)
 * means on while the fleet has at most {@link AUTO_CLUSTER_METRICS_MAX} clusters and off above.
 *
 * @example
 * parseClusterMetricsPolicy('off; on=spilo/orders/*', 'WALWATCH_CLUSTER_METRICS')
 * // { default: 'off', clusters: [{ pattern: 'spilo/orders/*', value: 'on' }] }
 */
import {
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  settingFor,
} from './cluster-setting.js';

/** Per-cluster metrics for a cluster: always, never, or while the fleet is small. */
export type ClusterMetricsMode = 'on' | 'off' | 'auto';

/** A default mode and the clusters that differ from it. */
export type ClusterMetricsPolicy = ClusterSetting<ClusterMetricsMode>;

/**
 * Largest fleet for which `auto` emits per-cluster metrics: 50 clusters × 5 metrics × $0.30 is $75 a
 * month, $1.50 per cluster; above it the fleet metrics and the API carry the per-cluster detail.
 */
export const AUTO_CLUSTER_METRICS_MAX = 50;

/** Reads one mode. */
export function parseClusterMetricsMode(text: string, name: string): ClusterMetricsMode {
  if (text === 'on' || text === 'off' || text === 'auto') return text;
  throw new ClusterSettingError(`${name} must be on, off or auto, got ${JSON.stringify(text)}`);
}

/**
 * Reads a policy: `<mode>` or `<mode>; <mode>=<pattern>,<pattern>; …`; missing or empty is `auto`.
 *
 * @throws {ClusterSettingError} on an unknown mode, an empty or repeated pattern, or two defaults
 */
export function parseClusterMetricsPolicy(text: string | undefined, name: string): ClusterMetricsPolicy {
  return parseClusterSetting(text, name, parseClusterMetricsMode, 'auto', 'mode');
}

/** The policy in its syntax, as {@link parseClusterMetricsPolicy} reads it back. */
export function formatClusterMetricsPolicy(policy: ClusterMetricsPolicy): string {
  return formatClusterSetting(policy, (mode) => mode);
}

/**
 * Whether a cluster's own metrics are emitted in a fleet of `fleetSize` clusters.
 *
 * @example
 * clusterMetricsWanted({ default: 'auto', clusters: [] }, 'spilo/a', 10_000) // false
 */
export function clusterMetricsWanted(
  policy: ClusterMetricsPolicy,
  clusterId: string,
  fleetSize: number,
): boolean {
  const mode = settingFor(policy, clusterId);
  return mode === 'on' || (mode === 'auto' && fleetSize <= AUTO_CLUSTER_METRICS_MAX);
}
