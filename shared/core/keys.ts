import { isWalFileName } from './lsn.js';

/**
 * Object keys of WAL-G/WAL-E archives: which cluster an object belongs to and what kind of object it is.
 *
 * A cluster (archive root) is the key prefix under which `wal_005/` and `basebackups_005/` live; its id is
 * that prefix without the trailing slash. Facts: `../shared/reference/walg-layout.md` §2.
 */

/** The longest key S3 (and MinIO) accepts, in UTF-8 bytes; longer keys come only from folders or forgery. */
export const MAX_S3_KEY_BYTES = 1024;

/** Length of a key in UTF-8 bytes, the unit S3 and DynamoDB limits are given in. */
export function keyByteLength(key: string): number {
  return new TextEncoder().encode(key).length;
}

/** Compression methods by the key extension WAL-G and WAL-E give them; `none` is no extension or a bare dot. */
export const COMPRESSION_BY_EXTENSION = {
  lz4: 'lz4',
  lzma: 'lzma',
  zst: 'zstd',
  br: 'brotli',
  gz: 'gzip',
  lzo: 'lzo',
} as const;

/** How an object body is compressed, as told by its key. */
export type Compression = (typeof COMPRESSION_BY_EXTENSION)[keyof typeof COMPRESSION_BY_EXTENSION] | 'none';

/**
 * The extensions a reader tries for an archived WAL file, in WAL-G's fetch order (lz4 first), then WAL-E's
 * and none (no extension, or WAL-G 3.0.8's bare `.`), with the compression each names.
 */
export const WAL_EXTENSIONS: ReadonlyArray<readonly [extension: string, compression: Compression]> = [
  ['.lz4', 'lz4'],
  ['.zst', 'zstd'],
  ['.br', 'brotli'],
  ['.lzma', 'lzma'],
  ['.gz', 'gzip'],
  ['', 'none'],
  ['.', 'none'],
  ['.lzo', 'lzo'],
];

/** Display fields of Spilo's prefix shapes `spilo/<scope>[/<uid>]/wal[/<major>]`. */
export interface SpiloShape {
  readonly scope: string | null;
  readonly uid: string | null;
  readonly pgMajor: string | null;
}

/** A base backup name decoded: `base_<24hex>`, `base_<24hex>_D_<24hex>` or WAL-E's `base_<24hex>_<8 digits>`. */
export interface BackupName {
  readonly name: string;
  /** The 24-hex WAL file name of the start segment (the start timeline is its first 8 hex digits). */
  readonly startWalFile: string;
  /** For a delta: the start WAL file of its parent (the first 24-hex run of the parent's name). */
  readonly deltaFromWalFile: string | null;
  /** WAL-E only: the decimal byte offset of the start LSN inside the start segment. */
  readonly walEOffset: number | null;
}

/** What an object key means. `unknown` keys are counted, never fatal. */
export type ObjectKind =
  | { readonly kind: 'segment'; readonly walFile: string; readonly compression: Compression }
  | { readonly kind: 'partial'; readonly walFile: string; readonly compression: Compression }
  | { readonly kind: 'history'; readonly timeline: number; readonly compression: Compression }
  | {
      readonly kind: 'backup-label';
      readonly walFile: string;
      readonly offset: number;
      readonly compression: Compression;
    }
  | { readonly kind: 'wal-metadata' }
  | { readonly kind: 'wal-delta' }
  | { readonly kind: 'sentinel'; readonly backup: BackupName }
  | { readonly kind: 'backup-metadata'; readonly backup: BackupName }
  | { readonly kind: 'backup-part'; readonly backup: BackupName; readonly part: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/** A key inside some cluster's archive root. */
export interface ParsedKey {
  readonly clusterId: string;
  /** The key relative to the cluster root, e.g. `wal_005/000000010000000000000002.lz4`. */
  readonly relativeKey: string;
  readonly object: ObjectKind;
}

const WAL_DIR = 'wal_005/';
const BACKUP_DIR = 'basebackups_005/';
const SENTINEL_SUFFIX = '_backup_stop_sentinel.json';
const PARTIAL = /^([0-9A-F]{24})\.partial$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;
const BACKUP_LABEL = /^([0-9A-F]{24})\.([0-9A-F]{8})\.backup$/;
const DELTA = /^[0-9A-F]{24}_delta$/;
const WAL_METADATA = /^[0-9A-F]{23,24}\.json$/;
const BACKUP_NAME = /^base_([0-9A-F]{24})(?:_D_([0-9A-F]{24}))?(?:_([0-9]{8}))?$/;
const SPILO_ROOT = /(?:^|\/)spilo\/([^/]+)\/(?:([^/]+)\/)?wal(?:\/([0-9]+(?:\.[0-9]+)?))?$/;

/**
 * Finds the cluster root of a key and classifies the object under it.
 * Returns `undefined` for a key that lies under no `wal_005/` or `basebackups_005/` folder.
 *
 * @example
 * parseObjectKey('spilo/superman/wal/15/wal_005/000000010000000000000002.00000060.backup.lz4')
 * // { clusterId: 'spilo/superman/wal/15', relativeKey: 'wal_005/…', object: { kind: 'backup-label', … } }
 */
export function parseObjectKey(key: string): ParsedKey | undefined {
  const wal = findFolder(key, WAL_DIR);
  const backups = findFolder(key, BACKUP_DIR);
  const at = wal === -1 ? backups : backups === -1 ? wal : Math.min(wal, backups);
  if (at === -1) return undefined;
  const clusterId = at === 0 ? '' : key.slice(0, at - 1);
  const relativeKey = key.slice(at);
  const object =
    at === wal
      ? classifyWalObject(relativeKey.slice(WAL_DIR.length))
      : classifyBackupObject(relativeKey.slice(BACKUP_DIR.length));
  return { clusterId, relativeKey, object };
}

function findFolder(key: string, folder: string): number {
  if (key.startsWith(folder)) return 0;
  const at = key.indexOf(`/${folder}`);
  return at === -1 ? -1 : at + 1;
}

/** Splits one known compression extension off a file name: `.lz4 .lzma .zst .br .gz .lzo`, a bare `.`, or none. */
export function stripCompression(fileName: string): {
  readonly base: string;
  readonly compression: Compression;
} {
  const dot = fileName.lastIndexOf('.');
  if (dot === -1) return { base: fileName, compression: 'none' };
  if (dot === fileName.length - 1) return { base: fileName.slice(0, dot), compression: 'none' };
  const extension = fileName.slice(dot + 1);
  const compression = COMPRESSION_BY_EXTENSION[extension as keyof typeof COMPRESSION_BY_EXTENSION];
  return compression
    ? { base: fileName.slice(0, dot), compression }
    : { base: fileName, compression: 'none' };
}

function classifyWalObject(fileName: string): ObjectKind {
  if (fileName.length === 0 || fileName.includes('/'))
    return { kind: 'unknown', reason: 'not a file of wal_005/' };
  // WAL metadata is raw JSON: `<seg>.json` would otherwise pass for a segment once `.json` is stripped.
  if (fileName.endsWith('.json') && WAL_METADATA.test(fileName)) return { kind: 'wal-metadata' };
  const { base, compression } = stripCompression(fileName);
  if (isWalFileName(base)) return { kind: 'segment', walFile: base, compression };
  let match = PARTIAL.exec(base);
  if (match) return { kind: 'partial', walFile: match[1] as string, compression };
  match = HISTORY.exec(base);
  if (match) return { kind: 'history', timeline: Number.parseInt(match[1] as string, 16), compression };
  match = BACKUP_LABEL.exec(base);
  if (match) {
    return {
      kind: 'backup-label',
      walFile: match[1] as string,
      offset: Number.parseInt(match[2] as string, 16),
      compression,
    };
  }
  if (DELTA.test(base)) return { kind: 'wal-delta' };
  return { kind: 'unknown', reason: 'unrecognised name in wal_005/' };
}

function classifyBackupObject(path: string): ObjectKind {
  const slash = path.indexOf('/');
  if (slash === -1) {
    if (!path.endsWith(SENTINEL_SUFFIX))
      return { kind: 'unknown', reason: 'unrecognised file in basebackups_005/' };
    const backup = parseBackupName(path.slice(0, -SENTINEL_SUFFIX.length));
    return backup
      ? { kind: 'sentinel', backup }
      : { kind: 'unknown', reason: 'sentinel of an unrecognised backup name' };
  }
  const backup = parseBackupName(path.slice(0, slash));
  if (!backup) return { kind: 'unknown', reason: 'folder of an unrecognised backup name' };
  const part = path.slice(slash + 1);
  if (part.length === 0) return { kind: 'unknown', reason: 'empty backup part name' };
  return part === 'metadata.json'
    ? { kind: 'backup-metadata', backup }
    : { kind: 'backup-part', backup, part };
}

/** Decodes a base backup name; `undefined` when it is not one WAL-G or WAL-E writes. */
export function parseBackupName(name: string): BackupName | undefined {
  const match = BACKUP_NAME.exec(name);
  if (!match) return undefined;
  return {
    name,
    startWalFile: match[1] as string,
    deltaFromWalFile: match[2] ?? null,
    walEOffset: match[3] === undefined ? null : Number.parseInt(match[3], 10),
  };
}

/** Reads Spilo's prefix shapes out of a cluster id; every field is `null` for other prefixes. */
export function parseSpiloShape(clusterId: string): SpiloShape {
  const match = SPILO_ROOT.exec(clusterId);
  if (!match) return { scope: null, uid: null, pgMajor: null };
  return { scope: match[1] as string, uid: match[2] ?? null, pgMajor: match[3] ?? null };
}
