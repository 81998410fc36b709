/**
 * `restore_command` for PostgreSQL: fetches one archived WAL file (a segment or a timeline history file)
 * from a WAL-G/WAL-E archive root, decompresses it and writes it where PostgreSQL asked, atomically.
 */
import { randomBytes } from 'node:crypto';
import { chown, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decompress } from '../codec/decompress.js';
import { WAL_EXTENSIONS } from '../core/keys.js';
import { isWalFileName } from '../core/lsn.js';
import { isObjectAbsent, type ObjectReader } from '../sources/archive-source.js';

/** The largest WAL file accepted: PostgreSQL's largest segment size. */
const MAX_WAL_FILE_BYTES = 1024 * 1024 * 1024;

/** A name PostgreSQL may ask `restore_command` for: a segment or a timeline history file. */
export function isFetchableWalName(name: string): boolean {
  return isWalFileName(name) || /^[0-9A-F]{8}\.history$/.test(name);
}

/**
 * The archive as a restore should see it: per timeline, the newest segment to serve. A segment after it, a
 * segment of a timeline not listed, and the history file of a timeline newer than every listed one count as
 * absent. A drill bounds its `restore_command` so to the archive its prediction saw, so that WAL archived
 * while it restores does not carry recovery past the point it holds the restore against.
 */
export type WalFetchBound = ReadonlyMap<number, bigint>;

/** Parses `--until`'s comma-separated segment names into a {@link WalFetchBound}. */
export function parseWalFetchBound(text: string): WalFetchBound {
  const bound = new Map<number, bigint>();
  for (const name of text.split(',').map((part) => part.trim())) {
    if (!isWalFileName(name)) throw new Error(`--until: ${name || '(empty)'} is not a WAL segment name`);
    const timeline = Number.parseInt(name.slice(0, 8), 16);
    const segment = BigInt(`0x${name.slice(8)}`);
    if ((bound.get(timeline) ?? -1n) < segment) bound.set(timeline, segment);
  }
  return bound;
}

/** Whether a bound leaves `fileName` out of the archive (see {@link WalFetchBound}). */
export function isBeyondBound(fileName: string, bound: WalFetchBound): boolean {
  const timeline = Number.parseInt(fileName.slice(0, 8), 16);
  if (fileName.endsWith('.history')) return timeline > Math.max(...bound.keys());
  const last = bound.get(timeline);
  return last === undefined || BigInt(`0x${fileName.slice(8, 24)}`) > last;
}

/** The file could not be fetched for another reason than its absence (a damaged body, no access). */
export class WalFetchError extends Error {
  override readonly name = 'WalFetchError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What {@link readWalFile} found: the decompressed file, or no object of that name. */
export type WalFileRead =
  | { readonly status: 'fetched'; readonly bytes: Uint8Array; readonly key: string }
  | { readonly status: 'absent' };

/**
 * Reads `fileName` from `<root>/wal_005/` under whichever extension holds it (see `WAL_EXTENSIONS`) and
 * decompresses it: what `wal-fetch` writes to DEST and the drill's prefetch writes ahead of recovery.
 *
 * @param reader - reads full keys of the bucket
 * @param root - the archive root (cluster id), `''` for the bucket root
 * @param bound - serve only what this bound leaves in the archive (see {@link WalFetchBound})
 * @param signal - aborts the reads under way
 * @returns `absent` when no object of that name exists under any extension
 * @throws {WalFetchError} for a body that cannot be read or decompressed
 */
export async function readWalFile(
  reader: ObjectReader,
  root: string,
  fileName: string,
  bound?: WalFetchBound,
  signal?: AbortSignal,
): Promise<WalFileRead> {
  if (!isFetchableWalName(fileName))
    throw new WalFetchError(`${fileName} is neither a WAL segment nor a timeline history file name`);
  if (bound !== undefined && isBeyondBound(fileName, bound)) return { status: 'absent' };
  const base = `${root === '' ? '' : `${root.replace(/\/+$/, '')}/`}wal_005/${fileName}`;
  let passing: string | undefined;
  for (const [extension, method] of WAL_EXTENSIONS) {
    signal?.throwIfAborted();
    const key = `${base}${extension}`;
    let body: Uint8Array;
    try {
      body = await reader.read(key, signal ? { signal } : undefined);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (isObjectAbsent(error)) continue;
      passing ??= (error as Error).message;
      continue;
    }
    try {
      return {
        status: 'fetched',
        bytes: await decompress(body, method, { maxBytes: MAX_WAL_FILE_BYTES }),
        key,
      };
    } catch (error) {
      throw new WalFetchError(`${key}: ${(error as Error).message}`, { cause: error });
    }
  }
  // A read that failed for another reason than absence may hide the object: never say "absent" then, or
  // PostgreSQL would end recovery early.
  if (passing !== undefined) throw new WalFetchError(`cannot read ${base}: ${passing}`);
  return { status: 'absent' };
}

/**
 * Fetches `fileName` from `<root>/wal_005/` ({@link readWalFile}) and writes its decompressed bytes to
 * `dest` through a temporary file in the same folder renamed into place: `dest` never holds part of a file.
 *
 * @returns `absent` when no object of that name exists under any extension, else the bytes written
 * @throws {WalFetchError} for a body that cannot be read or decompressed, or a write that fails
 */
export async function fetchWalFile(
  reader: ObjectReader,
  root: string,
  fileName: string,
  dest: string,
  bound?: WalFetchBound,
): Promise<
  { readonly status: 'fetched'; readonly bytes: number; readonly key: string } | { readonly status: 'absent' }
> {
  const read = await readWalFile(reader, root, fileName, bound);
  if (read.status === 'absent') return read;
  await writeAtomically(dest, read.bytes);
  return { status: 'fetched', bytes: read.bytes.length, key: read.key };
}

/** How {@link writeAtomically} writes. */
export interface AtomicWriteOptions {
  /** Give the file to this owner before it takes its name. @default the current user */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Flush the file to disk before renaming it. @default true */
  readonly sync?: boolean;
}

/**
 * Writes `bytes` to a temporary sibling of `dest` (a dot file ending in `.tmp`), flushes it, then renames it
 * over `dest`: `dest` holds the whole file or none of it.
 */
export async function writeAtomically(
  dest: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      if (options.sync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.owner) await chown(temp, options.owner.uid, options.owner.gid);
    await rename(temp, dest);
  } catch (error) {
    await rm(temp, { force: true });
    throw new WalFetchError(`cannot write ${dest}: ${(error as Error).message}`, { cause: error });
  }
}
