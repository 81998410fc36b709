/**
 * Object sizes no WAL segment of a cluster can have, judged without reading the object: an archived
 * segment is exactly the cluster's segment size before compression, so an uncompressed one that is empty
 * or larger, or a compressed one smaller than its format's framing or larger than the format makes of the
 * least compressible segment, cannot be read by recovery (`wrong-size`).
 */
import { type Compression, stripCompression } from './keys.js';
import { formatLsn, segmentStartLsn } from './lsn.js';
import type { StoredSegmentDefect } from './state.js';

/** The fixed framing of each format: no body of that format is shorter (an empty input's stream). */
const MIN_COMPRESSED_BYTES: Readonly<Record<Exclude<Compression, 'none'>, number>> = {
  // magic 4 + frame descriptor 3 + end mark 4
  lz4: 11,
  // magic 4 + frame header 1 + block header 3
  zstd: 8,
  // header 10 + trailer 8
  gzip: 18,
  // properties 5 + uncompressed size 8
  lzma: 13,
  // an empty stream is one byte
  brotli: 1,
  // lzop's magic
  lzo: 9,
};

/**
 * The largest body a compressed segment can have: incompressible input grows by well under 1/16 in every
 * format WAL-G writes (lz4 and zstd by about 1/255, deflate, brotli and LZMA2 by less), plus headers.
 */
export function maxCompressedSegmentBytes(segmentSize: number): number {
  return segmentSize + segmentSize / 16 + 65_536;
}

/** Why an object of `size` bytes cannot be a segment of `segmentSize` bytes; `undefined` when it can be. */
export function impossibleSegmentSize(
  size: number | null | undefined,
  compression: Compression,
  segmentSize: number,
): string | undefined {
  if (size === null || size === undefined) return undefined;
  if (compression === 'none') {
    if (size === 0) return 'the object is empty';
    if (size > segmentSize) return `it has ${size} bytes, more than a ${segmentSize}-byte segment`;
    return undefined;
  }
  if (size < MIN_COMPRESSED_BYTES[compression])
    return `it has ${size} bytes, fewer than any ${compression} stream`;
  if (size > maxCompressedSegmentBytes(segmentSize))
    return `it has ${size} bytes, more than ${compression} makes of a ${segmentSize}-byte segment`;
  return undefined;
}

/** One present object naming a segment: its key relative to the cluster root, size and ETag. */
export interface SegmentObject {
  readonly key: string;
  readonly size: number | null;
  readonly etag: string | null;
}

/**
 * The `wrong-size` defect of a segment whose every present object has an impossible size (judged on the
 * lowest key, so every path picks the same), or `undefined` when one of them could be the segment.
 */
export function segmentSizeDefect(
  objects: readonly SegmentObject[],
  segno: number,
  segmentSize: number,
): StoredSegmentDefect | undefined {
  let judged: { object: SegmentObject; reason: string } | undefined;
  for (const object of objects) {
    const fileName = object.key.slice(object.key.lastIndexOf('/') + 1);
    const reason = impossibleSegmentSize(object.size, stripCompression(fileName).compression, segmentSize);
    if (reason === undefined) return undefined;
    if (judged === undefined || object.key < judged.object.key) judged = { object, reason };
  }
  if (judged === undefined) return undefined;
  return {
    kind: 'wrong-size',
    message: `${judged.reason}: it cannot be a segment of this cluster (judged by its size, not read)`,
    stopLsn: formatLsn(segmentStartLsn(segno, segmentSize)),
    key: judged.object.key,
    etag: judged.object.etag,
    bySize: true,
  };
}
