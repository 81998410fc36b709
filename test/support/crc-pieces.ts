/**
 * Feeds data to the WAL reader's CRC-32C in pieces cut at arbitrary points, as records split over pages and
 * segments are fed, and returns the final CRC: the tables alone, or with `crc32c` for the long pieces.
 */
import {
  CRC32C_INIT,
  type Crc32cFunction,
  finishCrc32c,
  updateCrc32cWith,
} from '../../shared/core/wal/crc32c.js';

/** The CRC of `data` fed in pieces split at `cuts` (taken modulo the length, in any order). */
export function crcInPieces(
  crc32c: Crc32cFunction | undefined,
  data: Uint8Array,
  cuts: readonly number[],
): number {
  // A copy with room for whole words at the end, viewed as words from the same aligned address.
  const buffer = new Uint8Array(data.length + 4);
  buffer.set(data);
  const words = new Int32Array(buffer.buffer, 0, buffer.length >> 2);
  const points = [0, ...cuts.map((cut) => cut % (data.length + 1)).sort((a, b) => a - b), data.length];
  let register = CRC32C_INIT;
  for (let i = 1; i < points.length; i++)
    register = updateCrc32cWith(
      crc32c,
      register,
      buffer,
      points[i - 1] as number,
      points[i] as number,
      words,
    );
  return finishCrc32c(register);
}
