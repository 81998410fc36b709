/**
 * A streaming reader of PostgreSQL WAL segments (10–17): bytes in, a {@link SegmentContent} summary out.
 *
 * Feed consecutive segments to one {@link WalReader} and records that cross segment boundaries are joined;
 * feed a single segment and a record cut at its start is skipped, one cut at its end is reported as
 * incomplete. Bad bytes never throw: reading stops and the summary says why (`error`).
 * Facts: `../shared/reference/walg-layout.md` §4.6–4.9 (`xlogreader.c`, `xlog_internal.h`, `xlogrecord.h`).
 */
import { isValidSegmentSize, type Lsn } from '../lsn.js';
import {
  CRC32C_INIT,
  type Crc32cFunction,
  finishCrc32c,
  updateCrc32c,
  updateCrc32cWith,
  updateCrc32cWords,
} from './crc32c.js';
import {
  checkPageHeader,
  isZeroed,
  LONG_PAGE_HEADER_SIZE,
  PageFlag,
  type PageHeader,
  postgresVersionOfMagic,
  readPageHeader,
  SHORT_PAGE_HEADER_SIZE,
  WAL_PAGE_SIZE,
} from './page-header.js';
import { describeTimedRecord, type TimedRecord, XactOpcode, XlogOpcode } from './record-facts.js';
import {
  locateMainData,
  MAX_BUILTIN_RMGR_ID,
  MAX_RECORD_SIZE,
  RECORD_CRC_OFFSET,
  RECORD_HEADER_SIZE,
  ResourceManager,
} from './record-header.js';
import type {
  Checkpoint,
  EndOfRecovery,
  RestorePoint,
  SegmentContent,
  SegmentEnd,
  TransactionEnd,
} from './segment-content.js';

/** Options of {@link WalReader}. */
export interface WalReaderOptions {
  /** Collect every record with a time into `SegmentContent.timedRecords`. @default false */
  readonly collectTimedRecords?: boolean;
  /** Called for every complete, valid record, in order (for tools and tests). */
  readonly onRecord?: (record: RecordInfo) => void;
  /**
   * A faster CRC-32C for long pieces (block images), such as native code (`shared/codec/crc32c-native.ts`);
   * pieces shorter than `NATIVE_CRC32C_MIN_BYTES` and all headers stay on the core's tables. Every record's
   * CRC is checked either way, with the same result.
   * @default undefined (tables only)
   */
  readonly crc32c?: Crc32cFunction;
}

/** The header facts of one valid record, as given to {@link WalReaderOptions.onRecord}. */
export interface RecordInfo {
  readonly lsn: Lsn;
  readonly totalLength: number;
  readonly rmid: number;
  readonly info: number;
  readonly xid: number;
}

/** Options of {@link WalReader.readSegment}. */
export interface ReadSegmentOptions {
  /**
   * The file's name (`000000010000000000000003`, `.partial` allowed): when given, a segment whose header
   * names another segment number is reported as foreign.
   */
  readonly fileName?: string;
}

/**
 * A record whose bytes are being gathered across pages (and maybe segments).
 *
 * Records whose data walwatch reads (transaction ends, some XLOG records) are copied whole; for all others
 * only the running CRC and the 24-byte header are kept, so big block images are checksummed in place and
 * never copied. A copy buffer grows with the bytes actually found, so a damaged length cannot make the
 * reader allocate a gigabyte.
 */
interface PendingRecord {
  /** The LSN of the segment the record starts in, and the record's offset there. */
  readonly segmentStart: bigint;
  readonly offset: number;
  readonly totalLength: number;
  /**
   * Copy mode: the whole record so far, from `headerAt` (0). Checksum mode: where its 24-byte header lies —
   * the segment's own bytes while the record is read in the segment it starts in, a copy once carried on.
   */
  buffer: Uint8Array;
  headerAt: number;
  filled: number;
  /** Checksum mode: the running CRC-32C register over the bytes after the header. */
  crc: number | undefined;
}

function pendingLsn(pending: PendingRecord): bigint {
  return pending.segmentStart + BigInt(pending.offset);
}

/**
 * Starts gathering the record whose first part is `bytes[start, end)` of the segment at `segmentStart`.
 * With `words` (checksum mode, the whole header is in the first part) nothing is copied; without, the bytes
 * are.
 */
function startPending(
  segmentStart: bigint,
  totalLength: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  words: Int32Array | undefined,
  native: Crc32cFunction | undefined,
): PendingRecord {
  const filled = end - start;
  if (words !== undefined) {
    const crc = updateCrc32cWith(native, CRC32C_INIT, bytes, start + RECORD_HEADER_SIZE, end, words);
    return { segmentStart, offset: start, totalLength, buffer: bytes, headerAt: start, filled, crc };
  }
  const buffer = new Uint8Array(Math.min(totalLength, Math.max(filled, 64 * 1024)));
  buffer.set(bytes.subarray(start, end));
  return { segmentStart, offset: start, totalLength, buffer, headerAt: 0, filled, crc: undefined };
}

/**
 * Detaches a checksum-mode record from `segment`, the bytes it started in, which the caller may reuse once
 * read: the record goes on in the next segment and keeps a copy of its header.
 */
function carryPending(pending: PendingRecord, segment: Uint8Array): PendingRecord {
  if (pending.buffer === segment) {
    pending.buffer = pending.buffer.slice(pending.headerAt, pending.headerAt + RECORD_HEADER_SIZE);
    pending.headerAt = 0;
  }
  return pending;
}

/** Adds `bytes[from, to)` of a segment to a pending record. */
function appendPending(
  pending: PendingRecord,
  bytes: Uint8Array,
  from: number,
  to: number,
  words: Int32Array,
  native: Crc32cFunction | undefined,
): void {
  if (pending.crc !== undefined) {
    pending.crc = updateCrc32cWith(native, pending.crc, bytes, from, to, words);
    pending.filled += to - from;
    return;
  }
  const needed = pending.filled + (to - from);
  if (needed > pending.buffer.length) {
    const grown = new Uint8Array(Math.min(pending.totalLength, Math.max(needed, pending.buffer.length * 2)));
    grown.set(pending.buffer.subarray(0, pending.filled));
    pending.buffer = grown;
  }
  pending.buffer.set(bytes.subarray(from, to), pending.filled);
  pending.filled = needed;
}

/** What the reader carries from one segment to the next. */
interface Carry {
  readonly nextStart: bigint;
  readonly magic: number;
  readonly segmentSize: number;
  readonly systemIdentifier: bigint;
  readonly timeline: number;
  readonly pending: PendingRecord | undefined;
  /** The previous segment ended inside a record whose start was never seen. */
  readonly skipping: boolean;
  readonly lastRecordLsn: bigint | undefined;
}

/** A transaction end seen in the hot loop, decoded only if it turns out to be first or last. */
interface RawTransactionEnd {
  readonly view: DataView;
  readonly mainOffset: number;
  readonly info: number;
  readonly xid: number;
  /** Where the record starts: `segmentStart + offset`, or `lsnOutside` when it began in an earlier segment. */
  readonly segmentStart: bigint;
  readonly offset: number;
  readonly lsnOutside: bigint | undefined;
}

/**
 * Whether walwatch reads anything past the header of a record: transaction ends (their time) and the XLOG
 * records it reports. Other records, block images among them, are only checksummed.
 */
function needsRecordData(rmid: number, info: number): boolean {
  if (rmid === ResourceManager.transaction) {
    const opcode = info & 0x70;
    return (
      opcode === XactOpcode.commit ||
      opcode === XactOpcode.commitPrepared ||
      opcode === XactOpcode.abort ||
      opcode === XactOpcode.abortPrepared
    );
  }
  if (rmid === ResourceManager.xlog) {
    const opcode = info & 0xf0;
    return (
      opcode === XlogOpcode.overwriteContRecord ||
      opcode === XlogOpcode.restorePoint ||
      opcode === XlogOpcode.endOfRecovery ||
      opcode === XlogOpcode.checkpointOnline ||
      opcode === XlogOpcode.checkpointShutdown
    );
  }
  return false;
}

/** The little-endian unsigned 32-bit number at `bytes[at, at + 4)`. */
function readUint32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

const MAXALIGN = 8;
/** `xlp_info` bits a page other than a segment's first may carry (no long header). */
const SHORT_PAGE_FLAGS =
  PageFlag.firstIsContRecord | PageFlag.bkpRemovable | PageFlag.firstIsOverwriteContRecord;
const FILE_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})(\.partial)?$/;

function alignUp(offset: number): number {
  return (offset + MAXALIGN - 1) & ~(MAXALIGN - 1);
}

function hexLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** One pass over one segment. Offsets are numbers within the segment; LSNs are made only when reported. */
class SegmentScan {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly words: Int32Array;
  private readonly limit: number;
  private readonly startLsn: bigint;
  /** High and low halves of `startLsn`, to check `xl_prev` without making bigints in the hot loop. */
  private readonly startHigh: number;
  private readonly startLow: number;
  private readonly segmentSize: number;
  private readonly magic: number;
  private readonly systemIdentifier: bigint;
  private readonly version: number;
  private readonly options: WalReaderOptions;
  private readonly crc32c: Crc32cFunction | undefined;
  private pageTimeline: number;
  /** `xlp_info` and `xlp_rem_len` of the page {@link SegmentScan.enterPage} accepted last. */
  private pageInfo = 0;
  private pageRemaining = 0;

  /** Previous record: its segment offset, or its LSN when it lies in an earlier segment. */
  private previousOffset = -1;
  private previousLsn: bigint | undefined;

  recordCount = 0;
  recordBytes = 0;
  firstRecordOffset = -1;
  lastRecordOffset = -1;
  lastRecordLsnOutside: bigint | undefined;
  endOffset = -1;
  endLsnOutside: bigint | undefined;
  commitCount = 0;
  abortCount = 0;
  firstCommit: RawTransactionEnd | undefined;
  lastCommit: RawTransactionEnd | undefined;
  lastAbort: RawTransactionEnd | undefined;
  lastEndIsCommit = false;
  readonly restorePoints: RestorePoint[] = [];
  endOfRecovery: EndOfRecovery | undefined;
  lastCheckpoint: Checkpoint | undefined;
  readonly timedRecords: TimedRecord[] | undefined;
  end: SegmentEnd = 'segment-end';
  error: string | undefined;
  errorLsn: bigint | undefined;
  continuation: 'none' | 'joined' | 'skipped' = 'none';
  pending: PendingRecord | undefined;
  skippingAtEnd = false;
  abandonedRecordLsn: bigint | undefined;

  constructor(
    bytes: Uint8Array,
    first: PageHeader,
    version: number,
    options: WalReaderOptions,
    previousLsn: bigint | undefined,
  ) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    this.segmentSize = first.segmentSize as number;
    this.limit = Math.min(bytes.length, this.segmentSize);
    this.startLsn = first.pageAddress;
    this.startHigh = Number(first.pageAddress >> 32n);
    this.startLow = Number(first.pageAddress & 0xffff_ffffn);
    this.magic = first.magic;
    this.systemIdentifier = first.systemIdentifier as bigint;
    this.version = version;
    this.options = options;
    this.crc32c = options.crc32c;
    this.pageTimeline = first.timeline;
    this.previousLsn = previousLsn;
    this.timedRecords = options.collectTimedRecords ? [] : undefined;
  }

  lsnAt(offset: number): bigint {
    return this.startLsn + BigInt(offset);
  }

  private fail(message: string, offset: number): false {
    this.end = 'invalid';
    this.error = message;
    this.errorLsn = this.lsnAt(offset);
    return false;
  }

  private stopAtEndOfWal(): false {
    this.end = 'end-of-wal';
    return false;
  }

  /**
   * Validates the (short) header of the page at `pageOffset`, not the first page, and keeps its `xlp_info`
   * and `xlp_rem_len` in `pageInfo` and `pageRemaining`. Returns false after recording why reading stops.
   */
  private enterPage(pageOffset: number): boolean {
    if (pageOffset + SHORT_PAGE_HEADER_SIZE > this.limit) {
      return this.fail(
        `file ends at byte ${this.bytes.length}, before the end of the ${this.segmentSize}-byte segment`,
        pageOffset,
      );
    }
    // The usual page, checked on 32-bit words without building a header: the segment's magic, short-header
    // flags only, the same timeline as the page before, its own address, and a length only with the flag.
    const words = this.words;
    const w = pageOffset >> 2;
    const magicAndInfo = words[w] as number;
    const info = magicAndInfo >>> 16;
    const remaining = (words[w + 4] as number) >>> 0;
    if (
      (magicAndInfo & 0xffff) === this.magic &&
      (info & ~SHORT_PAGE_FLAGS) === 0 &&
      (words[w + 1] as number) >>> 0 === this.pageTimeline &&
      (words[w + 2] as number) >>> 0 === this.startLow + pageOffset &&
      (words[w + 3] as number) >>> 0 === this.startHigh &&
      (remaining === 0 || (info & PageFlag.firstIsContRecord) !== 0)
    ) {
      this.pageInfo = info;
      this.pageRemaining = remaining;
      return true;
    }
    if (isZeroed(this.bytes, pageOffset, SHORT_PAGE_HEADER_SIZE)) return this.stopAtEndOfWal();
    const header = readPageHeader(this.view, pageOffset);
    const problem = checkPageHeader(header, {
      magic: this.magic,
      pageAddress: this.lsnAt(pageOffset),
      firstOfSegment: false,
      segmentSize: this.segmentSize,
      systemIdentifier: this.systemIdentifier,
      minimumTimeline: this.pageTimeline,
    });
    if (problem !== undefined) {
      // A page left over from an earlier use of a recycled file: where WAL ended when the file was copied.
      if (
        header.magic === this.magic &&
        header.pageAddress < this.lsnAt(pageOffset) &&
        header.pageAddress > 0n
      ) {
        return this.stopAtEndOfWal();
      }
      return this.fail(`invalid page header at ${hexLsn(this.lsnAt(pageOffset))}: ${problem}`, pageOffset);
    }
    this.pageTimeline = header.timeline;
    this.pageInfo = header.info;
    this.pageRemaining = header.remainingLength;
    return true;
  }

  /**
   * Consumes continuation bytes starting at `offset` (just after a page header whose `xlp_rem_len` is
   * `remaining`), into `pending` or, when undefined, skipping them. Returns where reading goes on:
   * `done` after the record, `abandoned` after an overwrite-contrecord page header; undefined when reading
   * stops (segment end with the record still open, end of WAL, or an error).
   */
  private continueRecord(
    offset: number,
    remaining: number,
    pending: PendingRecord | undefined,
  ): { readonly kind: 'done' | 'abandoned'; readonly at: number } | undefined {
    let at = offset;
    let left = remaining;
    for (;;) {
      const pageEnd = Math.min((Math.floor(at / WAL_PAGE_SIZE) + 1) * WAL_PAGE_SIZE, this.segmentSize);
      const take = Math.min(left, pageEnd - at);
      if (at + take > this.limit) {
        this.fail(
          `file ends at byte ${this.bytes.length}, before the end of the ${this.segmentSize}-byte segment`,
          at,
        );
        return undefined;
      }
      if (pending !== undefined) {
        appendPending(pending, this.bytes, at, at + take, this.words, this.crc32c);
      }
      at += take;
      left -= take;
      if (left === 0) return { kind: 'done', at };
      if (pageEnd >= this.segmentSize) {
        // The record goes on in the next segment.
        this.pending = pending && carryPending(pending, this.bytes);
        this.skippingAtEnd = pending === undefined;
        this.end = 'segment-end';
        return undefined;
      }
      if (!this.enterPage(pageEnd)) return undefined;
      if ((this.pageInfo & PageFlag.firstIsContRecord) === 0) {
        if (this.pageInfo & PageFlag.firstIsOverwriteContRecord) {
          // The record was never finished; a new one starts after this header.
          this.abandonedRecordLsn = pending && pendingLsn(pending);
          return { kind: 'abandoned', at: pageEnd + SHORT_PAGE_HEADER_SIZE };
        }
        this.fail(`no continuation flag at ${hexLsn(this.lsnAt(pageEnd))} inside a record`, pageEnd);
        return undefined;
      }
      if (this.pageRemaining !== left) {
        this.fail(
          `continuation length ${this.pageRemaining} at ${hexLsn(this.lsnAt(pageEnd))} should be ${left}`,
          pageEnd,
        );
        return undefined;
      }
      at = pageEnd + SHORT_PAGE_HEADER_SIZE;
    }
  }

  /** Checks header fields that need no payload (`ValidXLogRecordHeader`). */
  private checkRecordHeader(bytes: Uint8Array, start: number, totalLength: number, offset: number): boolean {
    const rmid = bytes[start + 17] as number;
    if (rmid > MAX_BUILTIN_RMGR_ID && (this.version < 15 || rmid < 128)) {
      return this.fail(`invalid resource manager id ${rmid} at ${hexLsn(this.lsnAt(offset))}`, offset);
    }
    if (totalLength < RECORD_HEADER_SIZE || totalLength > MAX_RECORD_SIZE) {
      return this.fail(`invalid record length ${totalLength} at ${hexLsn(this.lsnAt(offset))}`, offset);
    }
    const prevLow = readUint32(bytes, start + 8);
    const prevHigh = readUint32(bytes, start + 12);
    if (this.previousOffset >= 0) {
      if (prevHigh !== this.startHigh || prevLow !== this.startLow + this.previousOffset) {
        return this.fail(`record at ${hexLsn(this.lsnAt(offset))} has a wrong prev-link`, offset);
      }
    } else if (this.previousLsn !== undefined) {
      if (((BigInt(prevHigh) << 32n) | BigInt(prevLow)) !== this.previousLsn) {
        return this.fail(`record at ${hexLsn(this.lsnAt(offset))} has a wrong prev-link`, offset);
      }
    }
    return true;
  }

  /** The hot path: a record wholly on one page of this segment, read through 32-bit words. */
  private takeInPlace(at: number, totalLength: number): boolean {
    const bytes = this.bytes;
    const words = this.words;
    const w = at >> 2;
    const rmid = bytes[at + 17] as number;
    if (
      this.previousOffset < 0 ||
      rmid > MAX_BUILTIN_RMGR_ID ||
      totalLength < RECORD_HEADER_SIZE ||
      (words[w + 3] as number) >>> 0 !== this.startHigh ||
      (words[w + 2] as number) >>> 0 !== this.startLow + this.previousOffset
    ) {
      // Anything unusual goes through the full check, which names the problem.
      if (!this.checkRecordHeader(bytes, at, totalLength, at)) return false;
    }
    let crc = updateCrc32cWith(
      this.crc32c,
      CRC32C_INIT,
      bytes,
      at + RECORD_HEADER_SIZE,
      at + totalLength,
      words,
    );
    crc = updateCrc32cWords(crc, bytes, at, at + RECORD_CRC_OFFSET, words);
    if (finishCrc32c(crc) !== (words[w + 5] as number) >>> 0) return this.failCrc(this.lsnAt(at));
    return this.acceptRecord(bytes, this.view, at, totalLength, at, undefined);
  }

  private failCrc(lsn: bigint): false {
    this.end = 'invalid';
    this.error = `record at ${hexLsn(lsn)} fails its CRC-32C check`;
    this.errorLsn = lsn;
    return false;
  }

  /**
   * Verifies and takes in one complete record `bytes[start, start + totalLength)` whose LSN is
   * `this.startLsn + offset` (offset may be negative for a record that began in an earlier segment).
   * Returns false when reading stops (error, or `XLOG_SWITCH`).
   */
  private takeRecord(
    bytes: Uint8Array,
    view: DataView,
    start: number,
    totalLength: number,
    offset: number,
    lsnOutside: bigint | undefined,
  ): boolean {
    // Gathered records live in their own buffers, which start 4-byte aligned: the word path applies.
    const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    let crc = updateCrc32cWith(
      this.crc32c,
      CRC32C_INIT,
      bytes,
      start + RECORD_HEADER_SIZE,
      start + totalLength,
      words,
    );
    crc = finishCrc32c(updateCrc32cWords(crc, bytes, start, start + RECORD_CRC_OFFSET, words));
    if (crc !== view.getUint32(start + RECORD_CRC_OFFSET, true))
      return this.failCrc(lsnOutside ?? this.lsnAt(offset));
    return this.acceptRecord(bytes, view, start, totalLength, offset, lsnOutside);
  }

  /**
   * Counts a verified record and takes its facts. Returns false when reading stops. `bytes` may hold the
   * header only (a record gathered in checksum mode, whose data walwatch does not read); `view`, when
   * given, views the same memory as `bytes`.
   */
  private acceptRecord(
    bytes: Uint8Array,
    given: DataView | undefined,
    start: number,
    totalLength: number,
    offset: number,
    lsnOutside: bigint | undefined,
  ): boolean {
    const rmid = bytes[start + 17] as number;
    const info = bytes[start + 16] as number;
    this.recordCount++;
    this.recordBytes += totalLength;
    if (lsnOutside === undefined) {
      if (this.firstRecordOffset < 0) this.firstRecordOffset = offset;
      this.lastRecordOffset = offset;
      this.endOffset = offset + totalLength;
      this.previousOffset = offset;
    } else {
      this.lastRecordLsnOutside = lsnOutside;
      this.endLsnOutside = lsnOutside + BigInt(totalLength);
      this.previousLsn = lsnOutside;
    }
    if (this.options.onRecord) {
      this.options.onRecord({
        lsn: lsnOutside ?? this.lsnAt(offset),
        totalLength,
        rmid,
        info,
        xid: readUint32(bytes, start + 4),
      });
    }
    if (rmid === ResourceManager.xlog && (info & 0xf0) === XlogOpcode.switch) {
      this.end = 'switch';
      return false;
    }
    if (!needsRecordData(rmid, info)) return true;
    const view = given ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (rmid === ResourceManager.transaction) {
      const opcode = info & 0x70;
      if (opcode === XactOpcode.commit || opcode === XactOpcode.commitPrepared) {
        const raw = this.rawTransactionEnd(bytes, view, start, totalLength, offset, lsnOutside, info);
        if (raw === undefined) return false;
        this.commitCount++;
        if (this.firstCommit === undefined) this.firstCommit = raw;
        this.lastCommit = raw;
        this.lastEndIsCommit = true;
        this.collect(raw);
      } else if (opcode === XactOpcode.abort || opcode === XactOpcode.abortPrepared) {
        const raw = this.rawTransactionEnd(bytes, view, start, totalLength, offset, lsnOutside, info);
        if (raw === undefined) return false;
        this.abortCount++;
        this.lastAbort = raw;
        this.lastEndIsCommit = false;
        this.collect(raw);
      }
      return true;
    }
    if (rmid === ResourceManager.xlog) {
      const opcode = info & 0xf0;
      if (opcode === XlogOpcode.overwriteContRecord) {
        // xl_overwrite_contrecord: the LSN of the abandoned record, then the time it was abandoned.
        const main = locateMainData(bytes, start, totalLength, this.version);
        if (typeof main === 'string') return this.fail(main, offset);
        if (main.length >= 8) this.abandonedRecordLsn ??= view.getBigUint64(start + main.offset, true);
        return true;
      }
      if (
        opcode === XlogOpcode.restorePoint ||
        opcode === XlogOpcode.endOfRecovery ||
        opcode === XlogOpcode.checkpointOnline ||
        opcode === XlogOpcode.checkpointShutdown
      ) {
        const main = locateMainData(bytes, start, totalLength, this.version);
        if (typeof main === 'string') return this.fail(main, offset);
        const lsn = lsnOutside ?? this.lsnAt(offset);
        const record = describeTimedRecord(
          view,
          { offset: start + main.offset, length: main.length },
          rmid,
          info,
          view.getUint32(start + 4, true),
          lsn,
        );
        if (record?.kind === 'restore-point') this.restorePoints.push(record);
        else if (record?.kind === 'end-of-recovery') this.endOfRecovery = record;
        else if (record?.kind === 'checkpoint') this.lastCheckpoint = record;
        if (record !== undefined) this.timedRecords?.push(record);
      }
    }
    return true;
  }

  private rawTransactionEnd(
    bytes: Uint8Array,
    view: DataView,
    start: number,
    totalLength: number,
    offset: number,
    lsnOutside: bigint | undefined,
    info: number,
  ): RawTransactionEnd | undefined {
    const main = locateMainData(bytes, start, totalLength, this.version);
    if (typeof main === 'string') {
      this.fail(main, offset);
      return undefined;
    }
    if (main.length < 8) {
      this.fail(`transaction record at ${hexLsn(lsnOutside ?? this.lsnAt(offset))} has no time`, offset);
      return undefined;
    }
    return {
      view,
      mainOffset: start + main.offset,
      info,
      xid: view.getUint32(start + 4, true),
      segmentStart: this.startLsn,
      offset,
      lsnOutside,
    };
  }

  private collect(raw: RawTransactionEnd): void {
    if (this.timedRecords !== undefined) this.timedRecords.push(decodeTransactionEnd(raw));
  }

  /** Completes a record gathered in `pending` (which started at an earlier offset or segment). */
  private takePending(pending: PendingRecord): boolean {
    // A record from the previous segment: offsets become negative, facts take its LSN.
    const outside = pending.segmentStart === this.startLsn ? undefined : pendingLsn(pending);
    const offset = outside === undefined ? pending.offset : Number(outside - this.startLsn);
    if (pending.crc !== undefined) {
      const { buffer, headerAt } = pending;
      const inPlace = buffer === this.bytes;
      if (!this.checkRecordHeader(buffer, headerAt, pending.totalLength, offset)) return false;
      const end = headerAt + RECORD_CRC_OFFSET;
      // A carried header copy is small enough to live on V8's heap: read it as bytes, never through a view.
      const register = inPlace
        ? updateCrc32cWords(pending.crc, buffer, headerAt, end, this.words)
        : updateCrc32c(pending.crc, buffer, headerAt, end);
      if (finishCrc32c(register) !== readUint32(buffer, end)) return this.failCrc(pendingLsn(pending));
      return this.acceptRecord(
        buffer,
        inPlace ? this.view : undefined,
        headerAt,
        pending.totalLength,
        offset,
        outside,
      );
    }
    const buffer = pending.buffer.subarray(0, pending.totalLength);
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    if (!this.checkRecordHeader(buffer, 0, buffer.length, offset)) return false;
    return this.takeRecord(buffer, view, 0, buffer.length, offset, outside);
  }

  /**
   * Reads the segment from its first page. `carried` is a record the previous segment left open;
   * `skipping` says the previous segment ended inside a record whose start this reader never saw.
   */
  run(first: PageHeader, carried: PendingRecord | undefined, skipping: boolean): void {
    let at = first.size;
    if (first.info & PageFlag.firstIsContRecord) {
      const remaining = first.remainingLength;
      const joins = carried !== undefined && carried.totalLength - carried.filled === remaining;
      if (carried !== undefined && !joins) {
        this.fail(
          `continuation length ${remaining} does not match the ${carried.totalLength - carried.filled} bytes ` +
            `missing from the record at ${hexLsn(pendingLsn(carried))}`,
          0,
        );
        return;
      }
      if (carried === undefined && this.previousLsn !== undefined && !skipping) {
        this.fail('page continues a record but the previous segment ended between records', 0);
        return;
      }
      this.continuation = joins ? 'joined' : 'skipped';
      // The next record's prev-link points at the skipped record, whose start is unknown.
      if (!joins) this.previousLsn = undefined;
      const next = this.continueRecord(at, remaining, joins ? carried : undefined);
      if (next === undefined) return;
      at = next.at;
      if (next.kind === 'done' && joins) {
        const taken = this.takePending(carried as PendingRecord);
        // The record ends here, past the page headers inside it (not at its LSN plus its length).
        if (taken || this.end === 'switch') this.endOffset = next.at;
        if (!taken) return;
      }
    } else if (carried !== undefined) {
      if (first.info & PageFlag.firstIsOverwriteContRecord) {
        this.abandonedRecordLsn = pendingLsn(carried);
      } else {
        this.fail(
          `record at ${hexLsn(pendingLsn(carried))} should continue here but the page has no continuation flag`,
          0,
        );
        return;
      }
    }
    this.readRecords(at);
  }

  private readRecords(from: number): void {
    const bytes = this.bytes;
    const view = this.view;
    let at = from;
    for (;;) {
      at = alignUp(at);
      if (at % WAL_PAGE_SIZE === 0) {
        if (at >= this.segmentSize) {
          this.end = 'segment-end';
          return;
        }
        if (!this.enterPage(at)) return;
        if (this.pageInfo & PageFlag.firstIsContRecord) {
          this.fail(`page at ${hexLsn(this.lsnAt(at))} continues a record that already ended`, at);
          return;
        }
        at += SHORT_PAGE_HEADER_SIZE;
      }
      if (at + 4 > this.limit) {
        this.fail(
          `file ends at byte ${bytes.length}, before the end of the ${this.segmentSize}-byte segment`,
          at,
        );
        return;
      }
      const totalLength = view.getUint32(at, true);
      if (totalLength === 0) {
        this.stopAtEndOfWal();
        return;
      }
      const pageEnd = (Math.floor(at / WAL_PAGE_SIZE) + 1) * WAL_PAGE_SIZE;
      if (at + totalLength <= pageEnd) {
        if (at + totalLength > this.limit) {
          this.fail(`file ends at byte ${bytes.length}, inside the record at ${hexLsn(this.lsnAt(at))}`, at);
          return;
        }
        if (!this.takeInPlace(at, totalLength)) return;
        at += totalLength;
        continue;
      }
      if (pageEnd > this.limit) {
        this.fail(`file ends at byte ${bytes.length}, inside the record at ${hexLsn(this.lsnAt(at))}`, at);
        return;
      }
      // The record spans pages: check what of its header is here before trusting its length.
      if (at + RECORD_HEADER_SIZE <= pageEnd) {
        if (!this.checkRecordHeader(bytes, at, totalLength, at)) return;
      } else if (totalLength < RECORD_HEADER_SIZE || totalLength > MAX_RECORD_SIZE) {
        this.fail(`invalid record length ${totalLength} at ${hexLsn(this.lsnAt(at))}`, at);
        return;
      }
      const firstPart = pageEnd - at;
      const checksumOnly =
        at + RECORD_HEADER_SIZE <= pageEnd &&
        !needsRecordData(bytes[at + 17] as number, bytes[at + 16] as number);
      const pending = startPending(
        this.startLsn,
        totalLength,
        bytes,
        at,
        pageEnd,
        checksumOnly ? this.words : undefined,
        this.crc32c,
      );
      if (pageEnd >= this.segmentSize) {
        this.pending = carryPending(pending, this.bytes);
        this.end = 'segment-end';
        return;
      }
      if (!this.enterPage(pageEnd)) return;
      if ((this.pageInfo & PageFlag.firstIsContRecord) === 0) {
        if (this.pageInfo & PageFlag.firstIsOverwriteContRecord) {
          this.abandonedRecordLsn = pendingLsn(pending);
          at = pageEnd + SHORT_PAGE_HEADER_SIZE;
          continue;
        }
        this.fail(`no continuation flag at ${hexLsn(this.lsnAt(pageEnd))} inside a record`, pageEnd);
        return;
      }
      if (this.pageRemaining !== totalLength - firstPart) {
        this.fail(
          `continuation length ${this.pageRemaining} at ${hexLsn(this.lsnAt(pageEnd))} should be ` +
            `${totalLength - firstPart}`,
          pageEnd,
        );
        return;
      }
      const next = this.continueRecord(pageEnd + SHORT_PAGE_HEADER_SIZE, totalLength - firstPart, pending);
      if (next === undefined) return;
      if (next.kind === 'done') {
        const taken = this.takePending(pending);
        if (taken || this.end === 'switch') this.endOffset = next.at;
        if (!taken) return;
      }
      at = next.at;
    }
  }
}

function decodeTransactionEnd(raw: RawTransactionEnd): TransactionEnd {
  const record = describeTimedRecord(
    raw.view,
    { offset: raw.mainOffset, length: 8 },
    ResourceManager.transaction,
    raw.info,
    raw.xid,
    raw.lsnOutside ?? raw.segmentStart + BigInt(raw.offset),
  );
  return record as TransactionEnd;
}

/** A summary for bytes that are not a readable segment at all. */
function unreadable(fileSize: number, error: string, header?: PageHeader, version?: number): SegmentContent {
  return {
    fileSize,
    startLsn: header?.pageAddress,
    timeline: header?.timeline,
    segmentSize: header?.segmentSize,
    systemIdentifier: header?.systemIdentifier,
    pageMagic: header?.magic,
    postgresVersion: version,
    firstRecordLsn: undefined,
    lastRecordLsn: undefined,
    endLsn: undefined,
    recordCount: 0,
    recordBytes: 0,
    commitCount: 0,
    abortCount: 0,
    firstCommit: undefined,
    lastCommit: undefined,
    lastAbort: undefined,
    lastTransactionEnd: undefined,
    firstCommitTime: undefined,
    lastCommitTime: undefined,
    lastCommitTimeMicros: undefined,
    lastCommitLsn: undefined,
    restorePoints: [],
    endOfRecovery: undefined,
    lastCheckpoint: undefined,
    end: 'invalid',
    endsWithSwitch: false,
    continuation: 'none',
    incompleteRecord: undefined,
    abandonedRecordLsn: undefined,
    error,
    errorLsn: header?.pageAddress,
    timedRecords: undefined,
  };
}

/**
 * Reads WAL segments one after another, joining records that cross from one into the next.
 *
 * @example
 * const reader = new WalReader();
 * for (const file of files) {
 *   const content = reader.readSegment(file.bytes, { fileName: file.name });
 *   if (content.error) console.log(`${file.name}: ${content.error}`);
 *   else console.log(file.name, content.lastCommitTime);
 * }
 */
export class WalReader {
  private readonly options: WalReaderOptions;
  private carry: Carry | undefined;

  constructor(options: WalReaderOptions = {}) {
    this.options = options;
  }

  /** Forgets the previous segment: the next one is read as if alone. */
  reset(): void {
    this.carry = undefined;
  }

  /**
   * Reads one segment file's bytes and summarises them. Joins a record left open by the previous call
   * when this segment directly follows it (same cluster, next LSN); otherwise reads it alone.
   */
  readSegment(input: Uint8Array, options: ReadSegmentOptions = {}): SegmentContent {
    const carry = this.carry;
    this.carry = undefined;
    // The CRC's fast path reads 32-bit words: it needs a 4-byte aligned start.
    const bytes = input.byteOffset % 4 === 0 ? input : input.slice();
    if (bytes.length < LONG_PAGE_HEADER_SIZE) {
      return unreadable(bytes.length, `file has ${bytes.length} bytes: too short for a WAL segment`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const first = readPageHeader(view, 0);
    const version = postgresVersionOfMagic(first.magic);
    if (version === undefined) {
      const magic = first.magic.toString(16).toUpperCase().padStart(4, '0');
      return unreadable(
        bytes.length,
        `page magic 0x${magic} is not PostgreSQL 10–17 WAL (encrypted, compressed or another file)`,
      );
    }
    if (first.size !== LONG_PAGE_HEADER_SIZE) {
      return unreadable(
        bytes.length,
        'first page has no long header: not the start of a WAL segment',
        first,
        version,
      );
    }
    const segmentSize = first.segmentSize as number;
    if (!isValidSegmentSize(segmentSize)) {
      return unreadable(
        bytes.length,
        `long header gives an invalid segment size ${segmentSize}`,
        first,
        version,
      );
    }
    if (first.pageSize !== WAL_PAGE_SIZE) {
      return unreadable(
        bytes.length,
        `WAL page size ${first.pageSize} is not ${WAL_PAGE_SIZE}`,
        first,
        version,
      );
    }
    if (first.pageAddress % BigInt(segmentSize) !== 0n) {
      return unreadable(bytes.length, 'first page address is not at a segment start', first, version);
    }
    if ((first.info & PageFlag.firstIsContRecord) === 0 && first.remainingLength !== 0) {
      return unreadable(bytes.length, 'first page has a continuation length but no flag', first, version);
    }
    const nameProblem = checkFileName(options.fileName, first.pageAddress, segmentSize);
    if (nameProblem !== undefined) return unreadable(bytes.length, nameProblem, first, version);

    const follows =
      carry !== undefined &&
      carry.nextStart === first.pageAddress &&
      carry.magic === first.magic &&
      carry.segmentSize === segmentSize &&
      carry.systemIdentifier === first.systemIdentifier &&
      first.timeline >= carry.timeline;
    const scan = new SegmentScan(
      bytes,
      first,
      version,
      this.options,
      follows ? carry?.lastRecordLsn : undefined,
    );
    scan.run(first, follows ? carry?.pending : undefined, follows && carry?.skipping === true);

    if (bytes.length > segmentSize && scan.error === undefined) {
      scan.end = 'invalid';
      scan.error = `file has ${bytes.length} bytes, more than its ${segmentSize}-byte segment`;
    } else if (bytes.length < segmentSize && scan.error === undefined) {
      scan.end = 'invalid';
      scan.error = `file ends at byte ${bytes.length}, before the end of the ${segmentSize}-byte segment`;
      scan.errorLsn = first.pageAddress + BigInt(bytes.length);
    }
    const content = summarise(scan, bytes.length, first, version);
    if (scan.end === 'segment-end' || scan.end === 'switch') {
      this.carry = {
        nextStart: first.pageAddress + BigInt(segmentSize),
        magic: first.magic,
        segmentSize,
        systemIdentifier: first.systemIdentifier as bigint,
        timeline: first.timeline,
        pending: scan.end === 'segment-end' ? scan.pending : undefined,
        skipping: scan.end === 'segment-end' && scan.skippingAtEnd,
        lastRecordLsn: content.lastRecordLsn,
      };
    }
    return content;
  }
}

function checkFileName(
  fileName: string | undefined,
  startLsn: bigint,
  segmentSize: number,
): string | undefined {
  if (fileName === undefined) return undefined;
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const match = FILE_NAME.exec(base);
  if (!match) return undefined;
  const perId = 0x1_0000_0000n / BigInt(segmentSize);
  const segno = BigInt(`0x${match[2]}`) * perId + BigInt(`0x${match[3]}`);
  const headerSegno = startLsn / BigInt(segmentSize);
  if (segno !== headerSegno || BigInt(`0x${match[3]}`) >= perId) {
    return `file name ${base} does not match its header, which starts at ${hexLsn(startLsn)} (a foreign or misnamed file)`;
  }
  return undefined;
}

function summarise(scan: SegmentScan, fileSize: number, first: PageHeader, version: number): SegmentContent {
  const firstCommit = scan.firstCommit && decodeTransactionEnd(scan.firstCommit);
  const lastCommit = scan.lastCommit && decodeTransactionEnd(scan.lastCommit);
  const lastAbort = scan.lastAbort && decodeTransactionEnd(scan.lastAbort);
  const lastRecordLsn =
    scan.lastRecordOffset >= 0 ? scan.lsnAt(scan.lastRecordOffset) : scan.lastRecordLsnOutside;
  const endLsn = scan.endOffset >= 0 ? scan.lsnAt(scan.endOffset) : scan.endLsnOutside;
  const pending = scan.end === 'segment-end' ? scan.pending : undefined;
  return {
    fileSize,
    startLsn: first.pageAddress,
    timeline: first.timeline,
    segmentSize: first.segmentSize,
    systemIdentifier: first.systemIdentifier,
    pageMagic: first.magic,
    postgresVersion: version,
    firstRecordLsn: scan.firstRecordOffset >= 0 ? scan.lsnAt(scan.firstRecordOffset) : undefined,
    lastRecordLsn,
    endLsn,
    recordCount: scan.recordCount,
    recordBytes: scan.recordBytes,
    commitCount: scan.commitCount,
    abortCount: scan.abortCount,
    firstCommit,
    lastCommit,
    lastAbort,
    lastTransactionEnd: scan.lastEndIsCommit ? lastCommit : lastAbort,
    firstCommitTime: firstCommit?.time,
    lastCommitTime: lastCommit?.time,
    lastCommitTimeMicros: lastCommit?.timeMicros,
    lastCommitLsn: lastCommit?.lsn,
    restorePoints: scan.restorePoints,
    endOfRecovery: scan.endOfRecovery,
    lastCheckpoint: scan.lastCheckpoint,
    end: scan.end,
    endsWithSwitch: scan.end === 'switch',
    continuation: scan.continuation,
    incompleteRecord: pending && {
      lsn: pendingLsn(pending),
      totalLength: pending.totalLength,
      bytesRead: pending.filled,
    },
    abandonedRecordLsn: scan.abandonedRecordLsn,
    error: scan.error,
    errorLsn: scan.errorLsn,
    timedRecords: scan.timedRecords,
  };
}

/**
 * Reads a single segment on its own: a record cut at its start is skipped, one cut at its end is reported
 * in `incompleteRecord`.
 *
 * @example
 * const content = readSegment(bytes, { fileName: '000000010000000000000003' });
 * content.lastCommitTime // '2026-11-24T14:32:15.485281Z'
 */
export function readSegment(
  bytes: Uint8Array,
  options: ReadSegmentOptions & WalReaderOptions = {},
): SegmentContent {
  return new WalReader(options).readSegment(bytes, options);
}
