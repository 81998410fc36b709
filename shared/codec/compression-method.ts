import { stripCompression } from '../core/keys.js';
import type { CompressionMethod } from './decompress.js';

/** A key or file name split into the archived file's name and the method its extension names. */
export interface KeyCompression {
  /** The archived file's own name, extension removed. */
  readonly baseName: string;
  readonly method: CompressionMethod;
}

/**
 * Finds the compression method of an archive key or file name from its extension, the way WAL-G reads
 * objects: one known extension is stripped, a trailing `.` (WAL-G 3.0.8's `none`) and no extension both
 * mean uncompressed. The extension table is the core's (`stripCompression`).
 *
 * @example compressionMethodOfKey('wal_005/000000010000000000000003.lz4') // { baseName: '…0003', method: 'lz4' }
 */
export function compressionMethodOfKey(key: string): KeyCompression {
  const { base, compression } = stripCompression(key.slice(key.lastIndexOf('/') + 1));
  return { baseName: base, method: compression };
}
