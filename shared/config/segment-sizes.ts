/**
 * WAL segment sizes per cluster (`WALWATCH_SEGMENT_SIZE`, `--segment-size`, the CDK prop `segmentSize`):
 * a default, then overrides by cluster id pattern in the syntax of `cluster-setting.ts`. Each value is a
 * size or `auto`, the default: the size is then learnt from the archive (`core/segment-size.ts`). A size
 * overrides detection, and the archive is still checked against it.
 *
 * @example
 * parseSegmentSizes('auto; 64MiB=spilo/big/*', '--segment-size')
 * // { default: 'auto', clusters: [{ pattern: 'spilo/big/*', value: 67108864 }] }
 */
import { isValidSegmentSize } from '../core/lsn.js';
import type { SegmentSizeSetting } from '../core/segment-size.js';
import { readByteSize } from './byte-size.js';
import {
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  settingValues,
} from './cluster-setting.js';

/** Segment sizes in bytes or `auto`: a default and the clusters that differ from it. */
export type SegmentSizes = ClusterSetting<SegmentSizeSetting>;

/** `auto` for every cluster, used when nothing is set. */
export const DEFAULT_SEGMENT_SIZES: SegmentSizes = { default: 'auto', clusters: [] };

/**
 * The largest segment a cluster left to `auto` is expected to have when sizing memory: 64 MiB covers
 * initdb's default and the sizes Spilo users pick; larger segments need their size configured.
 */
export const AUTO_SEGMENT_SIZE_BUDGET = 64 * 1024 * 1024;

/**
 * Reads one value: `auto`, or bytes or with a unit (`64MiB`).
 *
 * @throws {ClusterSettingError} naming the setting unless it is `auto` or a power of two from 1 MiB to 1 GiB
 */
export function parseSegmentSize(text: string, name: string): SegmentSizeSetting {
  if (text.trim().toLowerCase() === 'auto') return 'auto';
  const size = readByteSize(text);
  if (size === undefined)
    throw new ClusterSettingError(
      `${name}: ${JSON.stringify(text)} is not a size (try auto, 16MiB or 16777216)`,
    );
  if (!isValidSegmentSize(size))
    throw new ClusterSettingError(
      `${name}: ${JSON.stringify(text)} is not a WAL segment size, a power of two from 1MiB to 1GiB`,
    );
  return size;
}

/**
 * Reads the sizes: `<value>` or `<value>; <value>=<pattern>,<pattern>; …` (`auto` when no default is given).
 *
 * @param name - the setting's name, for error messages
 * @throws {ClusterSettingError} on a bad size, an empty or repeated pattern, or two defaults
 */
export function parseSegmentSizes(text: string | undefined, name: string): SegmentSizes {
  return parseClusterSetting<SegmentSizeSetting>(text, name, parseSegmentSize, 'auto', 'size');
}

/** The sizes in the setting's syntax (bytes or `auto`), as `parseSegmentSizes` reads them back. */
export function formatSegmentSizes(sizes: SegmentSizes): string {
  return formatClusterSetting(sizes, String);
}

/**
 * The largest segment any cluster may have, for sizing functions that read segments: the largest size set,
 * and `AUTO_SEGMENT_SIZE_BUDGET` for clusters left to `auto`.
 */
export function largestSegmentSize(sizes: SegmentSizes): number {
  return Math.max(
    ...settingValues(sizes).map((value) => (value === 'auto' ? AUTO_SEGMENT_SIZE_BUDGET : value)),
  );
}
