/**
 * WAL record headers (`XLogRecord`, `src/include/access/xlogrecord.h`) and the fragment headers after them.
 *
 * A record is a 24-byte header, then fragment headers (one per block reference, optional origin and
 * top-level xid, then the main-data length), then block images and data, then the main data — so the main
 * data is always the record's last bytes. Facts: `../shared/reference/walg-layout.md` §4.7.
 */

/** `SizeOfXLogRecord`. */
export const RECORD_HEADER_SIZE = 24;
/** Offset of `xl_crc`, the last header field; the CRC covers `[24, tot_len)` then `[0, 20)`. */
export const RECORD_CRC_OFFSET = 20;
/** `XLogRecordMaxSize` (1020 MiB): no valid record is longer. */
export const MAX_RECORD_SIZE = 1020 * 1024 * 1024;

/** Resource managers whose records walwatch decodes. */
export const ResourceManager = { xlog: 0, transaction: 1, logicalMessage: 21 } as const;
/** Highest built-in resource manager id (PostgreSQL 10–17); 128–255 are custom ones (15+). */
export const MAX_BUILTIN_RMGR_ID = 21;

const BLOCK_ID_MAX = 32;
const BLOCK_ID_DATA_SHORT = 255;
const BLOCK_ID_DATA_LONG = 254;
const BLOCK_ID_ORIGIN = 253;
const BLOCK_ID_TOPLEVEL_XID = 252;
const BKPBLOCK_HAS_IMAGE = 0x10;
const BKPBLOCK_SAME_REL = 0x80;
const BKPIMAGE_HAS_HOLE = 0x01;

/** Where the main data of a record lies, relative to the record's first byte. */
export interface MainData {
  readonly offset: number;
  readonly length: number;
}

/**
 * Finds the main data of the record whose bytes are `bytes[start, start + totalLength)`.
 * Returns a reason string when the fragment headers are inconsistent (`DecodeXLogRecord`'s checks).
 *
 * @param postgresVersion - decides which `bimg_info` bit means "compressed" (it moved in 15)
 */
export function locateMainData(
  bytes: Uint8Array,
  start: number,
  totalLength: number,
  postgresVersion: number,
): MainData | string {
  const end = start + totalLength;
  // Most records with main data and no block references (commits among them) start with a short data header.
  if (bytes[start + RECORD_HEADER_SIZE] === BLOCK_ID_DATA_SHORT && totalLength >= RECORD_HEADER_SIZE + 2) {
    const length = bytes[start + RECORD_HEADER_SIZE + 1] as number;
    if (RECORD_HEADER_SIZE + 2 + length === totalLength) return { offset: RECORD_HEADER_SIZE + 2, length };
  }
  let at = start + RECORD_HEADER_SIZE;
  let payload = 0;
  let mainLength = 0;
  const compressedMask = postgresVersion >= 15 ? 0x04 | 0x08 | 0x10 : 0x02;
  // Headers continue while more bytes remain than the data lengths declared so far (`DecodeXLogRecord`).
  while (end - at > payload) {
    const id = bytes[at] as number;
    if (id === BLOCK_ID_DATA_SHORT) {
      if (at + 2 > end) return 'record main-data header is cut short';
      mainLength = bytes[at + 1] as number;
      at += 2;
      break;
    }
    if (id === BLOCK_ID_DATA_LONG) {
      if (at + 5 > end) return 'record main-data header is cut short';
      mainLength =
        ((bytes[at + 1] as number) |
          ((bytes[at + 2] as number) << 8) |
          ((bytes[at + 3] as number) << 16) |
          ((bytes[at + 4] as number) << 24)) >>>
        0;
      at += 5;
      break;
    }
    if (id === BLOCK_ID_ORIGIN) {
      at += 3;
    } else if (id === BLOCK_ID_TOPLEVEL_XID) {
      at += 5;
    } else if (id <= BLOCK_ID_MAX) {
      if (at + 4 > end) return 'record block header is cut short';
      const flags = bytes[at + 1] as number;
      payload += (bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8);
      at += 4;
      if (flags & BKPBLOCK_HAS_IMAGE) {
        if (at + 5 > end) return 'record image header is cut short';
        payload += (bytes[at] as number) | ((bytes[at + 1] as number) << 8);
        const imageInfo = bytes[at + 4] as number;
        at += 5;
        if (imageInfo & compressedMask && imageInfo & BKPIMAGE_HAS_HOLE) at += 2;
      }
      if (!(flags & BKPBLOCK_SAME_REL)) at += 12;
      at += 4;
    } else {
      return `record has an invalid block id ${id}`;
    }
  }
  if (at + payload + mainLength !== end) return 'record fragment lengths do not add up to its length';
  return { offset: end - mainLength - start, length: mainLength };
}
