/**
 * WAL segment sizes per cluster (`WALWATCH_SEGMENT_SIZE`, `--segment-size`, the CDK prop `segmentSize`):
 * a default size, then overrides by cluster id pattern in the syntax of `cluster-setting.ts`.
 *
 * @example
 * parseSegmentSizes('16MiB; 64MiB=spilo/big/*', '--segment-size')
 * // { default: 16777216, clusters: [{ pattern: 'spilo/big/*', value: 67108864 }] }
 */
import { DEFAULT_SEGMENT_SIZE, isValidSegmentSize } from '../core/lsn.js';
import { readByteSize } from './byte-size.js';
import {
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  settingValues,
} from './cluster-setting.js';

/** Segment sizes in bytes: a default and the clusters that differ from it. */
export type SegmentSizes = ClusterSetting<number>;

/** 16 MiB for every cluster, used when nothing is set. */
export const DEFAULT_SEGMENT_SIZES: SegmentSizes = { default: DEFAULT_SEGMENT_SIZE, clusters: [] };

/**
 * Reads one segment size: bytes or with a unit (`64MiB`).
 *
 * @throws {ClusterSettingError} naming the setting unless it is a power of two from 1 MiB to 1 GiB
 */
export function parseSegmentSize(text: string, name: string): number {
  const size = readByteSize(text);
  if (size === undefined)
    throw new ClusterSettingError(`${name}: ${JSON.stringify(text)} is not a size (try 16MiB or 16777216)`);
  if (!isValidSegmentSize(size))
    throw new ClusterSettingError(
      `${name}: ${JSON.stringify(text)} is not a WAL segment size, a power of two from 1MiB to 1GiB`,
    );
  return size;
}

/**
 * Reads the sizes: `<size>` or `<size>; <size>=<pattern>,<pattern>; …` (16 MiB when no default is given).
 *
 * @param name - the setting's name, for error messages
 * @throws {ClusterSettingError} on a bad size, an empty or repeated pattern, or two defaults
 */
export function parseSegmentSizes(text: string | undefined, name: string): SegmentSizes {
  return parseClusterSetting(text, name, parseSegmentSize, DEFAULT_SEGMENT_SIZE, 'size');
}

/** The sizes in bytes in the setting's syntax, as `parseSegmentSizes` reads them back. */
export function formatSegmentSizes(sizes: SegmentSizes): string {
  return formatClusterSetting(sizes, String);
}

/** The largest size any cluster may have: what functions reading segments must be sized for. */
export function largestSegmentSize(sizes: SegmentSizes): number {
  return Math.max(...settingValues(sizes));
}
