/**
 * Which segment bodies walwatch reads, for the whole deployment and per cluster.
 *
 * A policy is written as one setting (`WALWATCH_READ_CONTENT`, `serve --content`, the CDK context
 * `segmentContent`) in the syntax of `cluster-setting.ts`: a default mode, then optional overrides naming
 * clusters by id, `*` matching any run of characters. The most specific pattern (the most characters
 * besides `*`) that matches a cluster wins.
 *
 * @example
 * parseContentPolicy('chain-ends; all=spilo/orders/*; off=spilo/scratch/*')
 * // { default: 'chain-ends', clusters: [{ pattern: 'spilo/orders/*', value: 'all' }, …] }
 */
import {
  type ClusterOverride,
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  settingFor,
  settingValues,
} from './cluster-setting.js';

/**
 * Which segment bodies the monitor reads for a cluster: none; the segment at the end of each recovery
 * chain, for exact last commit times; or every archived segment too, to store each one's summary and find
 * segments recovery cannot read.
 */
export type ContentMode = 'off' | 'chain-ends' | 'all';

/** A default mode and the clusters that differ from it. */
export type ContentPolicy = ClusterSetting<ContentMode>;

/** Clusters whose id matches `pattern` (`*` matches any run of characters) use the mode `value`. */
export type ContentOverride = ClusterOverride<ContentMode>;

/** The setting names no valid policy; the message says which part and why. */
export const ContentPolicyError = ClusterSettingError;
export type ContentPolicyError = ClusterSettingError;

const MODE_ORDER: Record<ContentMode, number> = { off: 0, 'chain-ends': 1, all: 2 };

/** The policy that reads chain ends of every cluster, used when nothing is set. */
export const DEFAULT_CONTENT_POLICY: ContentPolicy = { default: 'chain-ends', clusters: [] };

/** Reads one mode; `true` and `false` are accepted for `chain-ends` and `off`. */
export function parseContentMode(text: string, name: string): ContentMode {
  if (text === 'true' || text === 'chain-ends') return 'chain-ends';
  if (text === 'false' || text === 'off') return 'off';
  if (text === 'all') return 'all';
  throw new ContentPolicyError(`${name} must be off, chain-ends or all, got ${JSON.stringify(text)}`);
}

/**
 * Reads a policy: `<mode>` or `<mode>; <mode>=<pattern>,<pattern>; …`, with at most one bare mode (the
 * default, `chain-ends` when absent). An empty or missing setting is the default policy.
 *
 * @param name - the setting's name, for error messages
 * @throws {ContentPolicyError} on an unknown mode, an empty or repeated pattern, or two defaults
 */
export function parseContentPolicy(text: string | undefined, name: string): ContentPolicy {
  return parseClusterSetting(text, name, parseContentMode, DEFAULT_CONTENT_POLICY.default, 'mode');
}

/** The policy in the setting's syntax, as `parseContentPolicy` reads it back. */
export function formatContentPolicy(policy: ContentPolicy): string {
  return formatClusterSetting(policy, (mode) => mode);
}

/** The mode for one cluster: the most specific matching override, else the default. */
export function contentModeFor(policy: ContentPolicy, clusterId: string): ContentMode {
  return settingFor(policy, clusterId);
}

/** The most any cluster may read: what the functions must be allowed and sized for. */
export function widestContentMode(policy: ContentPolicy): ContentMode {
  return settingValues(policy).reduce((widest, mode) =>
    MODE_ORDER[mode] > MODE_ORDER[widest] ? mode : widest,
  );
}
