/**
 * Backup stop sentinels (`<backup>_backup_stop_sentinel.json`) and backup `metadata.json`.
 *
 * WAL-G sentinels from v0.2 to v3 (field sets grew over time; `DeltaFromLSN` became `DeltaLSN`) and WAL-E
 * sentinels (`wal_segment_backup_stop`, …) are all read. LSNs and the system identifier stay exact.
 * Facts: walg-layout.md §2.8–2.9, §2.12.
 */
import {
  type ExactJson,
  isJsonObject,
  parseExactJson,
  readBoolean,
  readInteger,
  readString,
  readUnsigned,
} from './exact-json.js';
import { isoOf, parseTime } from './time.js';

/** What a sentinel says about its backup. LSNs are exact decimal strings. */
export interface SentinelFacts {
  readonly format: 'wal-g' | 'wal-e';
  /** WAL-G: backup start LSN (`LSN`). WAL-E sentinels carry none: it follows from the backup name. */
  readonly startLsn: string | null;
  /** WAL-G: consistency point (`FinishLSN`). */
  readonly finishLsn: string | null;
  /** WAL-E: the stop segment and decimal byte offset, from which the consistency point follows. */
  readonly walEStop: { readonly walFile: string; readonly offset: number } | null;
  readonly deltaFrom: string | null;
  readonly deltaFullName: string | null;
  readonly deltaCount: number | null;
  readonly pgVersion: number | null;
  readonly systemIdentifier: string | null;
  readonly compressedSize: number | null;
  readonly uncompressedSize: number | null;
  readonly startTime: string | null;
  readonly finishTime: string | null;
  readonly hostname: string | null;
  readonly isPermanent: boolean | null;
}

/** What `metadata.json` says; `is_permanent` here is authoritative (`backup-mark` rewrites only this file). */
export interface BackupMetadataFacts {
  readonly startTime: string | null;
  readonly finishTime: string | null;
  readonly startLsn: string | null;
  readonly finishLsn: string | null;
  readonly isPermanent: boolean | null;
  readonly systemIdentifier: string | null;
  readonly pgVersion: number | null;
  readonly hostname: string | null;
  readonly compressedSize: number | null;
  readonly uncompressedSize: number | null;
}

/** A parse outcome: the facts, or a message that says what is wrong. */
export type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

const WAL_FILE = /^[0-9A-F]{24}$/;

/**
 * Parses a sentinel body. WAL-G sentinels need `FinishLSN` and `LSN`; WAL-E ones need the stop segment.
 *
 * @example
 * parseSentinel('{"LSN":50331688,"FinishLSN":50331904,"SystemIdentifier":7507672962298572862}')
 * // { ok: true, value: { format: 'wal-g', startLsn: '50331688', finishLsn: '50331904',
 * //   systemIdentifier: '7507672962298572862', … } }
 */
export function parseSentinel(text: string): Parsed<SentinelFacts> {
  const json = parseExactJson(text);
  if (!json.ok) return json;
  const doc = json.value;
  if (!isJsonObject(doc)) return { ok: false, error: 'sentinel is not a JSON object' };

  if ('wal_segment_backup_stop' in doc) return parseWalESentinel(doc);

  const startLsn = readUnsigned(doc.LSN);
  const finishLsn = readUnsigned(doc.FinishLSN);
  if (startLsn === undefined) return { ok: false, error: 'sentinel has no valid "LSN"' };
  if (finishLsn === undefined) return { ok: false, error: 'sentinel has no valid "FinishLSN"' };
  if (BigInt(finishLsn) < BigInt(startLsn)) {
    return { ok: false, error: `"FinishLSN" ${finishLsn} is before "LSN" ${startLsn}` };
  }
  return {
    ok: true,
    value: {
      format: 'wal-g',
      startLsn,
      finishLsn,
      walEStop: null,
      deltaFrom: readString(doc.DeltaFrom) ?? null,
      deltaFullName: readString(doc.DeltaFullName) ?? null,
      deltaCount: readInteger(doc.DeltaCount) ?? null,
      pgVersion: readInteger(doc.PgVersion) ?? null,
      systemIdentifier: readUnsigned(doc.SystemIdentifier) ?? null,
      compressedSize: readInteger(doc.CompressedSize) ?? null,
      uncompressedSize: readInteger(doc.UncompressedSize) ?? null,
      startTime: readTime(doc.StartTime),
      finishTime: readTime(doc.FinishTime),
      hostname: readString(doc.Hostname) ?? null,
      isPermanent: readBoolean(doc.IsPermanent) ?? null,
    },
  };
}

function parseWalESentinel(doc: { [key: string]: ExactJson }): Parsed<SentinelFacts> {
  const walFile = readString(doc.wal_segment_backup_stop);
  const offsetText = doc.wal_segment_offset_backup_stop;
  const offset =
    typeof offsetText === 'string' && /^\d+$/.test(offsetText) ? Number(offsetText) : readInteger(offsetText);
  if (walFile === undefined || !WAL_FILE.test(walFile)) {
    return { ok: false, error: 'WAL-E sentinel has no valid "wal_segment_backup_stop"' };
  }
  if (offset === undefined)
    return { ok: false, error: 'WAL-E sentinel has no valid "wal_segment_offset_backup_stop"' };
  return {
    ok: true,
    value: {
      format: 'wal-e',
      startLsn: null,
      finishLsn: null,
      walEStop: { walFile, offset },
      deltaFrom: null,
      deltaFullName: null,
      deltaCount: null,
      pgVersion: null,
      systemIdentifier: null,
      compressedSize: null,
      uncompressedSize: readInteger(doc.expanded_size_bytes) ?? null,
      startTime: null,
      finishTime: null,
      hostname: null,
      isPermanent: null,
    },
  };
}

/** Parses a backup's `metadata.json` (`ExtendedMetadataDto`). */
export function parseBackupMetadata(text: string): Parsed<BackupMetadataFacts> {
  const json = parseExactJson(text);
  if (!json.ok) return json;
  const doc = json.value;
  if (!isJsonObject(doc)) return { ok: false, error: 'metadata.json is not a JSON object' };
  return {
    ok: true,
    value: {
      startTime: readTime(doc.start_time),
      finishTime: readTime(doc.finish_time),
      startLsn: readUnsigned(doc.start_lsn) ?? null,
      finishLsn: readUnsigned(doc.finish_lsn) ?? null,
      isPermanent: readBoolean(doc.is_permanent) ?? null,
      systemIdentifier: readUnsigned(doc.system_identifier) ?? null,
      pgVersion: readInteger(doc.pg_version) ?? null,
      hostname: readString(doc.hostname) ?? null,
      compressedSize: readInteger(doc.compressed_size) ?? null,
      uncompressedSize: readInteger(doc.uncompressed_size) ?? null,
    },
  };
}

/** An RFC 3339 time field normalised to ISO 8601 UTC, or `null` when absent or unreadable. */
function readTime(value: ExactJson | undefined): string | null {
  const text = readString(value);
  if (text === undefined) return null;
  const ms = parseTime(text);
  return Number.isNaN(ms) ? null : isoOf(ms);
}
