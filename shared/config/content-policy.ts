/**
 * Which segment bodies walwatch reads, for the whole deployment and per cluster.
 *
 * A policy is written as one setting (`WALWATCH_READ_CONTENT`, `serve --content`, the CDK context
 * `segmentContent`): a default mode, then optional overrides naming clusters by id, `*` matching any run of
 * characters. The most specific pattern (the most characters besides `*`) that matches a cluster wins.
 *
 * @example
 * parseContentPolicy('chain-ends; all=spilo/orders/*; off=spilo/scratch/*')
 * // { default: 'chain-ends', clusters: [{ pattern: 'spilo/orders/*', mode: 'all' }, …] }
 */

/**
 * Which segment bodies the monitor reads for a cluster: none; the segment at the end of each recovery
 * chain, for exact last commit times; or every archived segment too, to store each one's summary and find
 * segments recovery cannot read.
 */
export type ContentMode = 'off' | 'chain-ends' | 'all';

/** A default mode and the clusters that differ from it. */
export interface ContentPolicy {
  readonly default: ContentMode;
  readonly clusters: readonly ContentOverride[];
}

/** Clusters whose id matches `pattern` (`*` matches any run of characters) use `mode`. */
export interface ContentOverride {
  readonly pattern: string;
  readonly mode: ContentMode;
}

/** The setting names no valid policy; the message says which part and why. */
export class ContentPolicyError extends Error {
  override readonly name = 'ContentPolicyError';
}

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
  if (text === undefined || text.trim() === '') return DEFAULT_CONTENT_POLICY;
  let fallback: ContentMode | undefined;
  const clusters: ContentOverride[] = [];
  for (const part of text.split(';').map((entry) => entry.trim())) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals < 0) {
      if (fallback !== undefined)
        throw new ContentPolicyError(`${name} names two default modes: ${fallback} and ${part}`);
      fallback = parseContentMode(part, name);
      continue;
    }
    const mode = parseContentMode(part.slice(0, equals).trim(), name);
    for (const pattern of part
      .slice(equals + 1)
      .split(',')
      .map((entry) => entry.trim())) {
      if (pattern === '' || /\s/.test(pattern))
        throw new ContentPolicyError(
          `${name}: '${part}' needs cluster ids or patterns separated by commas, without spaces inside`,
        );
      const earlier = clusters.find((entry) => entry.pattern === pattern);
      if (earlier)
        throw new ContentPolicyError(`${name} gives ${pattern} twice (${earlier.mode} and ${mode})`);
      clusters.push({ pattern, mode });
    }
  }
  return { default: fallback ?? 'chain-ends', clusters };
}

/** The policy in the setting's syntax, as `parseContentPolicy` reads it back. */
export function formatContentPolicy(policy: ContentPolicy): string {
  const byMode = new Map<ContentMode, string[]>();
  for (const { pattern, mode } of policy.clusters) byMode.set(mode, [...(byMode.get(mode) ?? []), pattern]);
  return [policy.default, ...[...byMode].map(([mode, patterns]) => `${mode}=${patterns.join(',')}`)].join(
    '; ',
  );
}

/** The mode for one cluster: the most specific matching override, else the default. */
export function contentModeFor(policy: ContentPolicy, clusterId: string): ContentMode {
  let best: ContentOverride | undefined;
  let bestWeight = -1;
  for (const override of policy.clusters) {
    const weight = override.pattern.replaceAll('*', '').length;
    if (weight > bestWeight && matches(override.pattern, clusterId)) {
      best = override;
      bestWeight = weight;
    }
  }
  return best?.mode ?? policy.default;
}

/** The most any cluster may read: what the functions must be allowed and sized for. */
export function widestContentMode(policy: ContentPolicy): ContentMode {
  return [policy.default, ...policy.clusters.map((entry) => entry.mode)].reduce((widest, mode) =>
    MODE_ORDER[mode] > MODE_ORDER[widest] ? mode : widest,
  );
}

function matches(pattern: string, clusterId: string): boolean {
  const pieces = pattern.split('*');
  if (pieces.length === 1) return pattern === clusterId;
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  if (!clusterId.startsWith(first) || clusterId.length < first.length + last.length) return false;
  if (!clusterId.endsWith(last)) return false;
  let at = first.length;
  const end = clusterId.length - last.length;
  for (const piece of pieces.slice(1, -1)) {
    const found = clusterId.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
