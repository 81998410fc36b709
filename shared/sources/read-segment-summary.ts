/**
 * Reads one archived segment object and summarizes its content: download, decompress by the key's
 * extension, scan with the WAL reader. Unreadable objects (missing, `.lzo`, encrypted, a damaged
 * compressed frame) and failed downloads give `readError`, never an exception: WAL-G may still read them, so they are not
 * judged as WAL.
 */
import { compressionMethodOfKey } from '../codec/compression-method.js';
import { loadNativeCrc32c } from '../codec/crc32c-native.js';
import { ContentTooLargeError, decompress } from '../codec/decompress.js';
import {
  formatLsn,
  isValidSegmentSize,
  MAX_SEGMENT_SIZE,
  parseWalFileName,
  segmentStartLsn,
} from '../core/lsn.js';
import type { HeaderSegmentSize } from '../core/segment-size.js';
import { type SegmentSummary, summarizeSegment } from '../core/segment-summary.js';
import type { StoredSegmentDefect } from '../core/state.js';
import { LONG_PAGE_HEADER_SIZE, readPageHeader } from '../core/wal/page-header.js';
import { readSegment } from '../core/wal/wal-reader.js';
import { type ArchiveSource, isObjectAbsent } from './archive-source.js';

/**
 * A summary, or why the object could not be read as WAL at all. `passing` marks a download that failed for
 * a reason that may go away (throttling, a 5xx, the network): nothing is known about the object yet.
 */
export type SegmentSummaryRead =
  | { readonly summary: SegmentSummary; readonly readError: null; readonly passing?: false }
  | {
      readonly summary: null;
      readonly readError: string;
      readonly passing: boolean;
      /** Set when the body is larger than a segment: a `wrong-size` defect (see `oversizedDefect`). */
      readonly oversized?: StoredSegmentDefect;
    };

/** Reads and summarizes the segment object `key` of a cluster with `segmentSize`-byte segments. */
export async function readSegmentSummary(
  source: ArchiveSource,
  key: string,
  segmentSize: number,
): Promise<SegmentSummaryRead> {
  const { baseName, method } = compressionMethodOfKey(key);
  let body: Uint8Array;
  try {
    body = await source.read(key);
  } catch (error) {
    const readError = `${(error as Error).name}: ${(error as Error).message}`;
    return { summary: null, readError, passing: !isObjectAbsent(error) };
  }
  try {
    const bytes = await decompress(body, method, { maxBytes: segmentSize });
    // Native CRC-32C where the package is installed (CLI, local monitor); the tables in Lambda bundles.
    const content = readSegment(bytes, { fileName: baseName, crc32c: loadNativeCrc32c().crc32c });
    return { summary: summarizeSegment(content), readError: null };
  } catch (error) {
    const readError = `${(error as Error).name}: ${(error as Error).message}`;
    if (!(error instanceof ContentTooLargeError)) return { summary: null, readError, passing: false };
    return { summary: null, readError, passing: false, oversized: oversizedDefect(key, segmentSize) };
  }
}

/** The defect of a body that holds more than one segment: recovery cannot use it as this segment. */
function oversizedDefect(key: string, segmentSize: number): StoredSegmentDefect {
  const { baseName } = compressionMethodOfKey(key);
  const name = parseWalFileName(baseName.slice(baseName.lastIndexOf('/') + 1), segmentSize);
  return {
    kind: 'wrong-size',
    message: `its content is larger than a ${segmentSize}-byte segment`,
    stopLsn: formatLsn(segmentStartLsn(name.ok ? name.segno : 0, segmentSize)),
    key,
    etag: null,
  };
}

/**
 * The segment size the long page header of segment object `key` gives (`xlp_seg_size`), or undefined when
 * the object cannot be read or its first page carries no valid one.
 */
export async function readHeaderSegmentSize(
  source: ArchiveSource,
  key: string,
): Promise<HeaderSegmentSize | undefined> {
  const { baseName, method } = compressionMethodOfKey(key);
  try {
    const bytes = await decompress(await source.read(key), method, { maxBytes: MAX_SEGMENT_SIZE });
    if (bytes.byteLength < LONG_PAGE_HEADER_SIZE) return undefined;
    const header = readPageHeader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
    const walFile = baseName.slice(baseName.lastIndexOf('/') + 1);
    return header.segmentSize !== undefined && isValidSegmentSize(header.segmentSize)
      ? { walFile, size: header.segmentSize }
      : undefined;
  } catch {
    // Unreadable here means unknown, not wrong: the size stays assumed and the content read reports it.
    return undefined;
  }
}
