/**
 * WAL page headers (`XLogPageHeaderData`, `XLogLongPageHeaderData` in PostgreSQL's `xlog_internal.h`).
 *
 * Every 8 KiB WAL page starts with a 24-byte header; the first page of a segment has a 40-byte long header
 * that also names the cluster (system identifier) and the segment and page sizes.
 * Facts: `../shared/reference/walg-layout.md` §4.6.
 */

/** `XLOG_BLCKSZ`: the WAL page size every supported build uses. */
export const WAL_PAGE_SIZE = 8192;
/** `SizeOfXLogShortPHD`. */
export const SHORT_PAGE_HEADER_SIZE = 24;
/** `SizeOfXLogLongPHD`. */
export const LONG_PAGE_HEADER_SIZE = 40;

/** `xlp_info` flags. */
export const PageFlag = {
  /** The page starts with the rest of a record begun on an earlier page. */
  firstIsContRecord: 0x0001,
  /** The header is a long header (first page of a segment). */
  longHeader: 0x0002,
  /** Full-page images on this page may be removed (no backup was running). */
  bkpRemovable: 0x0004,
  /** A record that was cut off by a crash is abandoned; a new record starts here (PostgreSQL 2021+). */
  firstIsOverwriteContRecord: 0x0008,
} as const;
const ALL_PAGE_FLAGS = 0x000f;

/** `XLOG_PAGE_MAGIC` of each supported major version (stored little-endian in `xlp_magic`). */
export const PAGE_MAGIC_BY_VERSION: Readonly<Record<number, number>> = {
  10: 0xd097,
  11: 0xd098,
  12: 0xd101,
  13: 0xd106,
  14: 0xd10d,
  15: 0xd110,
  16: 0xd113,
  17: 0xd116,
};

const VERSION_BY_MAGIC: ReadonlyMap<number, number> = new Map(
  Object.entries(PAGE_MAGIC_BY_VERSION).map(([version, magic]) => [magic, Number(version)]),
);

/** The PostgreSQL major version that writes page magic `magic`, or undefined for an unsupported one. */
export function postgresVersionOfMagic(magic: number): number | undefined {
  return VERSION_BY_MAGIC.get(magic);
}

/** The fields of a page header. Long-header fields are present on a segment's first page only. */
export interface PageHeader {
  readonly magic: number;
  readonly info: number;
  readonly timeline: number;
  /** `xlp_pageaddr`: the LSN of the page's first byte. */
  readonly pageAddress: bigint;
  /** `xlp_rem_len`: bytes of a continued record still to come. */
  readonly remainingLength: number;
  /** 24 or 40. */
  readonly size: number;
  readonly systemIdentifier?: bigint;
  readonly segmentSize?: number;
  readonly pageSize?: number;
}

/** Reads the page header at `offset` of `view`. The caller makes sure 24 (or 40) bytes are there. */
export function readPageHeader(view: DataView, offset: number): PageHeader {
  const info = view.getUint16(offset + 2, true);
  const base = {
    magic: view.getUint16(offset, true),
    info,
    timeline: view.getUint32(offset + 4, true),
    pageAddress: view.getBigUint64(offset + 8, true),
    remainingLength: view.getUint32(offset + 16, true),
  };
  if ((info & PageFlag.longHeader) === 0 || offset + LONG_PAGE_HEADER_SIZE > view.byteLength) {
    return { ...base, size: SHORT_PAGE_HEADER_SIZE };
  }
  return {
    ...base,
    size: LONG_PAGE_HEADER_SIZE,
    systemIdentifier: view.getBigUint64(offset + 24, true),
    segmentSize: view.getUint32(offset + 32, true),
    pageSize: view.getUint32(offset + 36, true),
  };
}

/** What a page header must agree with: the magic of the segment's first page and where the page lies. */
export interface PageExpectation {
  readonly magic: number;
  readonly pageAddress: bigint;
  /** Whether this is the first page of a segment (a long header is required). */
  readonly firstOfSegment: boolean;
  readonly segmentSize: number;
  readonly systemIdentifier: bigint;
  /** The timeline of the previous page; page timelines never go down. */
  readonly minimumTimeline: number;
}

/** Why a page header was not accepted (`XLogReaderValidatePageHeader`), or undefined when it is valid. */
export function checkPageHeader(header: PageHeader, expected: PageExpectation): string | undefined {
  if (header.magic !== expected.magic) {
    return `page magic 0x${hex(header.magic, 4)} differs from the segment's 0x${hex(expected.magic, 4)}`;
  }
  if ((header.info & ~ALL_PAGE_FLAGS) !== 0) return `page has invalid info bits 0x${hex(header.info, 4)}`;
  if (header.pageAddress !== expected.pageAddress) return 'page address does not match its position';
  if (expected.firstOfSegment !== (header.size === LONG_PAGE_HEADER_SIZE)) {
    return expected.firstOfSegment
      ? 'first page of the segment has no long header'
      : 'unexpected long header';
  }
  if (header.size === LONG_PAGE_HEADER_SIZE) {
    if (header.segmentSize !== expected.segmentSize) return 'long header names another segment size';
    if (header.pageSize !== WAL_PAGE_SIZE) return `WAL page size ${header.pageSize} is not ${WAL_PAGE_SIZE}`;
    if (header.systemIdentifier !== expected.systemIdentifier) return 'long header names another cluster';
  }
  if (header.timeline < expected.minimumTimeline) return 'page timeline goes backwards';
  if ((header.info & PageFlag.firstIsContRecord) === 0 && header.remainingLength !== 0) {
    return 'page has a continuation length but no continuation flag';
  }
  return undefined;
}

/** Whether all `length` bytes at `offset` are zero (a page never written). */
export function isZeroed(bytes: Uint8Array, offset: number, length: number): boolean {
  const end = Math.min(bytes.length, offset + length);
  for (let i = offset; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

function hex(value: number, width: number): string {
  return value.toString(16).toUpperCase().padStart(width, '0');
}
