import { describe, expect, it } from 'vitest';
import { compressionMethodOfKey } from '../../../shared/codec/compression-method.js';

describe('compressionMethodOfKey', () => {
  it.each([
    ['wal_005/000000010000000000000003.lz4', '000000010000000000000003', 'lz4'],
    ['wal_005/000000010000000000000003.lzma', '000000010000000000000003', 'lzma'],
    ['wal_005/000000010000000000000003.zst', '000000010000000000000003', 'zstd'],
    ['wal_005/000000010000000000000003.br', '000000010000000000000003', 'brotli'],
    ['wal_005/000000010000000000000003.gz', '000000010000000000000003', 'gzip'],
    ['wal_005/000000010000000000000003.lzo', '000000010000000000000003', 'lzo'],
    ['wal_005/000000010000000000000003.', '000000010000000000000003', 'none'],
    ['000000010000000000000003', '000000010000000000000003', 'none'],
    ['00000001000000000000000F.partial.lz4', '00000001000000000000000F.partial', 'lz4'],
    ['00000001000000000000000F.partial', '00000001000000000000000F.partial', 'none'],
  ])('returns the base name and method of %s', (key, baseName, method) => {
    expect(compressionMethodOfKey(key)).toEqual({ baseName, method });
  });
});
