import { describe, expect, it } from 'vitest';
import { readByteSize } from '../../../shared/config/byte-size.js';
import { ClusterSettingError, settingFor } from '../../../shared/config/cluster-setting.js';
import {
  formatSegmentSizes,
  largestSegmentSize,
  parseSegmentSizes,
} from '../../../shared/config/segment-sizes.js';

const NAME = 'WALWATCH_SEGMENT_SIZE';
const MiB = 1024 * 1024;

describe('parseSegmentSizes', () => {
  it.each([
    [undefined, 'auto'],
    ['', 'auto'],
    ['auto', 'auto'],
    [' AUTO ', 'auto'],
    ['16777216', 16 * MiB],
    ['64MiB', 64 * MiB],
    ['64MB', 64 * MiB],
    ['64m', 64 * MiB],
    ['1024 KiB', MiB],
    ['1GiB', 1024 * MiB],
  ])('reads %j as %s for every cluster', (text, size) => {
    expect(parseSegmentSizes(text, NAME)).toEqual({ default: size, clusters: [] });
  });

  it('reads a default and per-cluster sizes, in bytes or with units', () => {
    const sizes = parseSegmentSizes('16MiB; 64MiB=spilo/big/*,spilo/huge/wal/16; 1048576=spilo/tiny/*', NAME);
    expect(sizes).toEqual({
      default: 16 * MiB,
      clusters: [
        { pattern: 'spilo/big/*', value: 64 * MiB },
        { pattern: 'spilo/huge/wal/16', value: 64 * MiB },
        { pattern: 'spilo/tiny/*', value: MiB },
      ],
    });
    expect(settingFor(sizes, 'spilo/big/wal/15')).toBe(64 * MiB);
    expect(settingFor(sizes, 'spilo/huge/wal/16')).toBe(64 * MiB);
    expect(settingFor(sizes, 'spilo/huge/wal/15')).toBe(16 * MiB);
    expect(settingFor(sizes, 'spilo/tiny/wal/17')).toBe(MiB);
    expect(largestSegmentSize(sizes)).toBe(64 * MiB);
  });

  it('keeps auto as the default when only overrides are given', () => {
    const sizes = parseSegmentSizes('1GiB=spilo/big/*', NAME);
    expect(sizes.default).toBe('auto');
    expect(largestSegmentSize(sizes)).toBe(1024 * MiB);
    expect(largestSegmentSize(parseSegmentSizes('64MiB; 2MiB=spilo/a', NAME))).toBe(64 * MiB);
  });

  it('counts a cluster left to auto as 64 MiB when sizing segment readers', () => {
    expect(largestSegmentSize(parseSegmentSizes(undefined, NAME))).toBe(64 * MiB);
    expect(largestSegmentSize(parseSegmentSizes('auto; 1MiB=spilo/a', NAME))).toBe(64 * MiB);
    expect(largestSegmentSize(parseSegmentSizes('16MiB; 1MiB=spilo/a', NAME))).toBe(16 * MiB);
  });

  it.each([
    ['1000', /WALWATCH_SEGMENT_SIZE: "1000" is not a WAL segment size, a power of two from 1MiB to 1GiB/],
    ['16MiB; 1000=spilo/a', /WALWATCH_SEGMENT_SIZE: "1000" is not a WAL segment size/],
    ['24MiB', /"24MiB" is not a WAL segment size/],
    ['512KiB', /"512KiB" is not a WAL segment size/],
    ['2GiB', /"2GiB" is not a WAL segment size/],
    ['16 MiBs', /WALWATCH_SEGMENT_SIZE: "16 MiBs" is not a size/],
    ['big=spilo/a', /"big" is not a size/],
    ['16MiB; 64MiB', /WALWATCH_SEGMENT_SIZE names two default sizes: 16MiB and 64MiB/],
    ['64MiB=spilo/a; 1MiB=spilo/a', /gives spilo\/a twice \(64MiB and 1MiB\)/],
  ])('rejects %j with a message naming the setting', (text, message) => {
    expect(() => parseSegmentSizes(text, NAME)).toThrow(ClusterSettingError);
    expect(() => parseSegmentSizes(text, NAME)).toThrow(message);
  });
});

describe('formatSegmentSizes', () => {
  it('writes bytes that read back the same sizes', () => {
    const sizes = parseSegmentSizes('2MiB; 64MiB=spilo/big/*,spilo/b; 1MiB=spilo/t', NAME);
    const text = formatSegmentSizes(sizes);
    expect(text).toBe('2097152; 67108864=spilo/big/*,spilo/b; 1048576=spilo/t');
    expect(parseSegmentSizes(text, NAME)).toEqual(sizes);
  });
});

describe('readByteSize', () => {
  it.each([
    ['16777216', 16 * MiB],
    ['16MiB', 16 * MiB],
    ['16 mb', 16 * MiB],
    ['4k', 4096],
    ['2G', 2048 * MiB],
    ['16 MiBs', undefined],
    ['-1', undefined],
    ['', undefined],
  ])('reads %j as %s', (text, size) => {
    expect(readByteSize(text)).toBe(size);
  });
});
