/**
 * A setting with a value for the whole deployment and overrides for some clusters, written as one string:
 * a default value, then `<value>=<pattern>,<pattern>` parts naming clusters by id, separated by `;`. In a
 * pattern `*` matches any run of characters, slashes included; the most specific matching pattern (the
 * most characters besides `*`) wins; among equally specific ones the one with fewer `*`, then the first in
 * code-point order, so the order the overrides are written in never matters.
 *
 * @example
 * parseClusterSetting('chain-ends; all=spilo/orders/*', 'WALWATCH_READ_CONTENT', parseContentMode, 'chain-ends')
 * // { default: 'chain-ends', clusters: [{ pattern: 'spilo/orders/*', value: 'all' }] }
 */

/** A default value and the clusters that differ from it. */
export interface ClusterSetting<T> {
  readonly default: T;
  readonly clusters: readonly ClusterOverride<T>[];
}

/** Clusters whose id matches `pattern` (`*` matches any run of characters) use `value`. */
export interface ClusterOverride<T> {
  readonly pattern: string;
  readonly value: T;
}

/** The text names no valid setting; the message names the setting, the part and why. */
export class ClusterSettingError extends Error {
  override readonly name = 'ClusterSettingError';
}

/**
 * Reads a setting: `<value>` or `<value>; <value>=<pattern>,<pattern>; …`, with at most one bare value (the
 * default, `fallback` when absent). An empty or missing setting is `fallback` for every cluster.
 *
 * @param name - the setting's name, for error messages
 * @param parseValue - reads one value; throws a `ClusterSettingError` naming the setting when it cannot
 * @param noun - what a value is, for the message about two defaults (`mode`, `size`)
 * @throws {ClusterSettingError} on a bad value, an empty, spaced or repeated pattern, or two defaults
 */
export function parseClusterSetting<T>(
  text: string | undefined,
  name: string,
  parseValue: (text: string, name: string) => T,
  fallback: T,
  noun = 'value',
): ClusterSetting<T> {
  if (text === undefined || text.trim() === '') return { default: fallback, clusters: [] };
  let defaultText: string | undefined;
  let defaultValue: T | undefined;
  const clusters: ClusterOverride<T>[] = [];
  const valueTexts = new Map<string, string>();
  for (const part of text.split(';').map((entry) => entry.trim())) {
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals < 0) {
      if (defaultText !== undefined)
        throw new ClusterSettingError(`${name} names two default ${noun}s: ${defaultText} and ${part}`);
      defaultValue = parseValue(part, name);
      defaultText = part;
      continue;
    }
    const valueText = part.slice(0, equals).trim();
    const value = parseValue(valueText, name);
    for (const pattern of part
      .slice(equals + 1)
      .split(',')
      .map((entry) => entry.trim())) {
      if (pattern === '' || /\s/.test(pattern))
        throw new ClusterSettingError(
          `${name}: '${part}' needs cluster ids or patterns separated by commas, without spaces inside`,
        );
      const earlier = valueTexts.get(pattern);
      if (earlier !== undefined)
        throw new ClusterSettingError(`${name} gives ${pattern} twice (${earlier} and ${valueText})`);
      valueTexts.set(pattern, valueText);
      clusters.push({ pattern, value });
    }
  }
  return { default: defaultText === undefined ? fallback : (defaultValue as T), clusters };
}

/** The setting in its syntax, as `parseClusterSetting` reads it back; overrides grouped by value. */
export function formatClusterSetting<T>(
  setting: ClusterSetting<T>,
  formatValue: (value: T) => string,
): string {
  const byValue = new Map<string, string[]>();
  for (const { pattern, value } of setting.clusters) {
    const text = formatValue(value);
    byValue.set(text, [...(byValue.get(text) ?? []), pattern]);
  }
  return [
    formatValue(setting.default),
    ...[...byValue].map(([value, patterns]) => `${value}=${patterns.join(',')}`),
  ].join('; ');
}

/** The value for one cluster: the most specific matching override, else the default. */
export function settingFor<T>(setting: ClusterSetting<T>, clusterId: string): T {
  let best: ClusterOverride<T> | undefined;
  for (const override of setting.clusters) {
    if (
      patternMatches(override.pattern, clusterId) &&
      (!best || moreSpecific(override.pattern, best.pattern))
    )
      best = override;
  }
  return best === undefined ? setting.default : best.value;
}

/** Whether pattern `a` beats `b`: more characters besides `*`, then fewer `*`, then code-point order. */
function moreSpecific(a: string, b: string): boolean {
  const stars = (pattern: string) => pattern.length - pattern.replaceAll('*', '').length;
  const literal = (pattern: string) => pattern.length - stars(pattern);
  if (literal(a) !== literal(b)) return literal(a) > literal(b);
  if (stars(a) !== stars(b)) return stars(a) < stars(b);
  return a < b;
}

/** Every value some cluster may get: the default first, then each override's. */
export function settingValues<T>(setting: ClusterSetting<T>): T[] {
  return [setting.default, ...setting.clusters.map((entry) => entry.value)];
}

/** Whether `clusterId` matches `pattern` as a whole, `*` matching any run of characters. */
export function patternMatches(pattern: string, clusterId: string): boolean {
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
