/**
 * Reads one archived segment object and summarizes its content: download, decompress by the key's
 * extension, scan with the WAL reader. Unreadable objects (missing, `.lzo`, encrypted, a damaged
 * compressed frame) and failed downloads give `readError`, never an exception: WAL-G may still read them, so they are not
 * judged as WAL.
 */
import { compressionMethodOfKey } from '../codec/compression-method.js';
import { loadNativeCrc32c } from '../codec/crc32c-native.js';
import {
  type CompressionMethod,
  ContentTooLargeError,
  ContentUnreadableError,
  CorruptContentError,
  decompress,
  decompressHead,
} from '../codec/decompress.js';
import { formatLsn, isValidSegmentSize, parseWalFileName, segmentStartLsn } from '../core/lsn.js';
import type { HeaderSegmentSize } from '../core/segment-size.js';
import { type SegmentSummary, summarizeSegment } from '../core/segment-summary.js';
import type { StoredSegmentDefect } from '../core/state.js';
import { LONG_PAGE_HEADER_SIZE, readPageHeader } from '../core/wal/page-header.js';
import { readSegment } from '../core/wal/wal-reader.js';
import { type ArchiveSource, isObjectAbsent, type ObjectReader } from './archive-source.js';

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

/** What reading a segment's long page header gave: its segment size, or why there is none. */
export type HeaderSizeRead =
  | { readonly header: HeaderSegmentSize }
  | {
      readonly header: null;
      readonly error: string;
      /** The object was gone or could not be fetched: another read may still tell the size. */
      readonly passing: boolean;
    };

/** The first ranged read of a segment's head: a compressed body holds its first page well within it. */
const FIRST_HEAD_BYTES = 16 * 1024;
/** Past this many bytes of a body without a page header, the whole object is read instead. */
const LAST_HEAD_BYTES = 4 * 1024 * 1024;

/**
 * Reads the segment size from the long page header of segment object `key` (`xlp_seg_size`), reading and
 * decompressing only the object's first bytes where the source can read a prefix: a prefix of 16 KiB,
 * grown when its compressed blocks are larger, the whole object only past 4 MiB or for a method that has no
 * prefix decoder (LZMA). Never throws: an object that is gone or a failed download is `passing`; a body that
 * is no WAL (encrypted, damaged, no valid size in its first page) is not.
 */
export async function readSegmentHeaderSize(source: ObjectReader, key: string): Promise<HeaderSizeRead> {
  const { baseName, method } = compressionMethodOfKey(key);
  const walFile = baseName.slice(baseName.lastIndexOf('/') + 1);
  let head: Uint8Array;
  try {
    head = await readHeadBytes(source, key, method);
  } catch (error) {
    const named = error as Error;
    return { header: null, error: `${named.name}: ${named.message}`, passing: !isCodecError(error) };
  }
  if (head.byteLength < LONG_PAGE_HEADER_SIZE)
    return { header: null, error: 'its first page holds no long page header', passing: false };
  const header = readPageHeader(new DataView(head.buffer, head.byteOffset, head.byteLength), 0);
  if (header.segmentSize === undefined || !isValidSegmentSize(header.segmentSize))
    return { header: null, error: 'its first page names no valid segment size', passing: false };
  return { header: { walFile, size: header.segmentSize } };
}

async function readHeadBytes(
  source: ObjectReader,
  key: string,
  method: CompressionMethod,
): Promise<Uint8Array> {
  if (source.readHead) {
    for (let length = FIRST_HEAD_BYTES; length <= LAST_HEAD_BYTES; length *= 4) {
      const prefix = await source.readHead(key, length);
      const complete = prefix.byteLength < length;
      const head = await decompressHead(prefix, method, LONG_PAGE_HEADER_SIZE, complete);
      if (head.byteLength >= LONG_PAGE_HEADER_SIZE || complete) return head;
    }
  }
  return decompressHead(await source.read(key), method, LONG_PAGE_HEADER_SIZE, true);
}

function isCodecError(error: unknown): boolean {
  return (
    error instanceof ContentUnreadableError ||
    error instanceof CorruptContentError ||
    error instanceof ContentTooLargeError
  );
}

/**
 * The segment size the long page header of segment object `key` gives (`xlp_seg_size`), or undefined when
 * the object cannot be read or its first page carries no valid one.
 */
export async function readHeaderSegmentSize(
  source: ObjectReader,
  key: string,
): Promise<HeaderSegmentSize | undefined> {
  // Unreadable here means unknown, not wrong: the size stays assumed and the content read reports it.
  return (await readSegmentHeaderSize(source, key)).header ?? undefined;
}
