import { describe, expect, it } from 'vitest';
import { PAGE_MAGIC_BY_VERSION, postgresVersionOfMagic } from '../../../../shared/core/wal/page-header.js';
import { readSegment } from '../../../../shared/core/wal/wal-reader.js';

describe('readSegment', () => {
  it.each([
    ['an empty file', new Uint8Array(0), /too short/],
    [
      'an lz4 frame',
      Uint8Array.from([0x04, 0x22, 0x4d, 0x18, ...new Array(60).fill(0)]),
      /page magic 0x2204/,
    ],
    ['zeros', new Uint8Array(8192), /page magic 0x0000/],
  ])('returns an error, without throwing, for %s', (_name, bytes, message) => {
    const content = readSegment(bytes);
    expect(content.end).toBe('invalid');
    expect(content.error).toMatch(message);
    expect(content.recordCount).toBe(0);
  });
});

describe('postgresVersionOfMagic', () => {
  it('returns the major version of every supported page magic and undefined for others', () => {
    for (const [version, magic] of Object.entries(PAGE_MAGIC_BY_VERSION)) {
      expect(postgresVersionOfMagic(magic)).toBe(Number(version));
    }
    expect(Object.keys(PAGE_MAGIC_BY_VERSION).map(Number)).toEqual([10, 11, 12, 13, 14, 15, 16, 17]);
    expect(postgresVersionOfMagic(0xd093)).toBeUndefined();
  });
});
