import type { CompressionMethod } from './decompress.js';

/** File extensions of archive objects and the method each one means (`walg-layout.md` §2.2). */
export const EXTENSION_METHODS: Readonly<Record<string, CompressionMethod>> = {
  lz4: 'lz4',
  lzma: 'lzma',
  zst: 'zstd',
  br: 'brotli',
  gz: 'gzip',
  lzo: 'lzo',
};

/** A key or file name split into the archived file's name and the method its extension names. */
export interface KeyCompression {
  /** The archived file's own name, extension removed. */
  readonly baseName: string;
  readonly method: CompressionMethod;
}

/**
 * Finds the compression method of an archive key or file name from its extension, the way WAL-G reads
 * objects: one known extension is stripped, a trailing `.` (WAL-G 3.0.8's `none`) and no extension both
 * mean uncompressed.
 *
 * @example compressionMethodOfKey('wal_005/000000010000000000000003.lz4') // { baseName: '…0003', method: 'lz4' }
 */
export function compressionMethodOfKey(key: string): KeyCompression {
  const name = key.slice(key.lastIndexOf('/') + 1);
  if (name.endsWith('.')) return { baseName: name.slice(0, -1), method: 'none' };
  const dot = name.lastIndexOf('.');
  const method = dot > 0 ? EXTENSION_METHODS[name.slice(dot + 1)] : undefined;
  if (method === undefined) return { baseName: name, method: 'none' };
  return { baseName: name.slice(0, dot), method };
}
