/**
 * Downloads a WAL-G base backup's tar partitions and unpacks them into a data directory, in the order
 * `wal-g backup-fetch` does: the data parts (`part_001.tar.*` …), then `backup_label.tar.*`, and
 * `pg_control.tar.*` last, so that an interrupted unpack never leaves a control file that looks restorable.
 */

import { constants } from 'node:buffer';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Unpack } from 'tar';
import { compressionMethodOfKey } from '../codec/compression-method.js';
import { decompressChunks } from '../codec/decompress.js';
import type { ArchiveSource } from '../sources/archive-source.js';

/** One tar partition of a backup. */
export interface TarPart {
  /** Full key. */
  readonly key: string;
  /** File name without compression extension, e.g. `part_001.tar`. */
  readonly name: string;
  readonly size: number | null;
}

/** A backup's tar partitions are not all there: `missing` names the ones absent. */
export class MissingTarPartError extends Error {
  override readonly name = 'MissingTarPartError';
  constructor(
    readonly backup: string,
    readonly missing: readonly string[],
  ) {
    super(`tar partition${missing.length === 1 ? '' : 's'} ${missing.join(', ')} missing from ${backup}`);
  }
}

/** A tar partition could not be read, decompressed or unpacked. */
export class UnpackError extends Error {
  override readonly name = 'UnpackError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const DATA_PART = /^part_(\d+)\.tar$/;

/**
 * Lists a backup's tar partitions in unpack order and checks that none is missing: data parts numbered
 * from 1 without a hole, `backup_label.tar` and `pg_control.tar`.
 *
 * @throws {MissingTarPartError} naming what is absent
 */
export async function listTarParts(
  source: ArchiveSource,
  cluster: string,
  backup: string,
): Promise<TarPart[]> {
  const prefix = `${cluster === '' ? '' : `${cluster}/`}basebackups_005/${backup}/tar_partitions/`;
  const parts: TarPart[] = [];
  for await (const object of source.list()) {
    if (!object.key.startsWith(prefix)) continue;
    const { baseName } = compressionMethodOfKey(object.key);
    if (!baseName.endsWith('.tar')) continue;
    parts.push({ key: object.key, name: baseName, size: object.size ?? null });
  }
  return orderTarParts(backup, parts);
}

/** Puts tar partitions in WAL-G's unpack order; throws {@link MissingTarPartError} when one is absent. */
export function orderTarParts(backup: string, parts: readonly TarPart[]): TarPart[] {
  const number = (part: TarPart): number => Number(DATA_PART.exec(part.name)?.[1] ?? Number.NaN);
  const data = parts.filter((part) => DATA_PART.test(part.name)).sort((a, b) => number(a) - number(b));
  const missing: string[] = [];
  const highest = data.length === 0 ? 1 : number(data.at(-1) as TarPart);
  const present = new Set(data.map(number));
  for (let n = 1; n <= highest; n++)
    if (!present.has(n)) missing.push(`part_${String(n).padStart(3, '0')}.tar`);
  const label = parts.find((part) => part.name === 'backup_label.tar');
  const control = parts.find((part) => part.name === 'pg_control.tar');
  if (!label) missing.push('backup_label.tar');
  if (!control) missing.push('pg_control.tar');
  if (missing.length > 0) throw new MissingTarPartError(backup, missing);
  const others = parts.filter((part) => !DATA_PART.test(part.name) && part !== label && part !== control);
  return [...data, ...others, label as TarPart, control as TarPart];
}

/**
 * How long each step held the unpack up, in ms, and how many bytes moved. The next part downloads while
 * one unpacks, so `downloadMs` is the time spent waiting for a download, not its whole length.
 */
export interface UnpackTimings {
  downloadMs: number;
  unpackMs: number;
  downloadedBytes: number;
  unpackedBytes: number;
}

/**
 * Downloads, decompresses and unpacks `parts` into `dataDir` in order, files owned by `owner` when given
 * (this process is root). One part downloads ahead while the one before it unpacks, so at most two
 * compressed parts are held at once.
 */
export async function unpackTarParts(
  source: ArchiveSource,
  parts: readonly TarPart[],
  dataDir: string,
  options: {
    readonly owner?: { readonly uid: number; readonly gid: number };
    readonly onProgress?: (
      event:
        | { phase: 'download'; part: string; bytes: number; totalBytes: number }
        | { phase: 'unpack'; part: string; done: number; total: number },
    ) => void;
    readonly clock?: () => number;
  } = {},
): Promise<UnpackTimings> {
  const clock = options.clock ?? performance.now.bind(performance);
  const timings: UnpackTimings = { downloadMs: 0, unpackMs: 0, downloadedBytes: 0, unpackedBytes: 0 };
  const totalBytes = parts.reduce((sum, part) => sum + (part.size ?? 0), 0);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const download = (part: TarPart): Promise<Uint8Array> => {
    const body = source.read(part.key).catch((error: unknown) => {
      throw new UnpackError(`cannot download ${part.name}: ${(error as Error).message}`, { cause: error });
    });
    // Awaited in its turn; a failure while the part before it unpacks must not go unhandled meanwhile.
    body.catch(() => {});
    return body;
  };
  let next = parts[0] ? download(parts[0]) : null;
  for (const [index, part] of parts.entries()) {
    let started = clock();
    const body = await (next as Promise<Uint8Array>);
    timings.downloadMs += clock() - started;
    timings.downloadedBytes += body.length;
    options.onProgress?.({ phase: 'download', part: part.name, bytes: timings.downloadedBytes, totalBytes });
    const following = parts[index + 1];
    next = following ? download(following) : null;
    started = clock();
    const unpacked = await unpackTar(part, body, dataDir, options.owner);
    timings.unpackMs += clock() - started;
    timings.unpackedBytes += unpacked;
    options.onProgress?.({ phase: 'unpack', part: part.name, done: index + 1, total: parts.length });
  }
  return timings;
}

/**
 * Decompresses one partition and extracts it with node-tar as the pieces come (LZ4 blocks decode on the
 * thread pool while node-tar writes the ones before); returns the tar's size. node-tar's strict mode keeps
 * its safety checks: no member leaves `dataDir` (`..`, absolute paths, writes through a symlink).
 *
 * @throws {UnpackError} when the body cannot be decompressed or the tar cannot be unpacked
 */
export async function unpackTar(
  part: Pick<TarPart, 'key' | 'name'>,
  body: Uint8Array,
  dataDir: string,
  owner?: { readonly uid: number; readonly gid: number },
): Promise<number> {
  const unpack = new Unpack({
    cwd: dataDir,
    strict: true,
    ...(owner ? { uid: owner.uid, gid: owner.gid, preserveOwner: false } : { preserveOwner: false }),
    // PostgreSQL wants its files private to its user: no group or other bits beyond what the tar holds.
    processUmask: 0o077,
  });
  const done = new Promise<void>((resolve, reject) => {
    unpack.on('close', () => resolve());
    unpack.on('error', reject);
  });
  // Seen below when the unpack is awaited; an earlier decompression failure must not leave it unhandled.
  done.catch(() => {});
  const pieces = decompressChunks(body, compressionMethodOfKey(part.key).method, {
    maxBytes: constants.MAX_LENGTH,
  });
  let size = 0;
  for (;;) {
    let piece: IteratorResult<Uint8Array>;
    try {
      piece = await pieces.next();
    } catch (error) {
      throw new UnpackError(`${part.name} cannot be decompressed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (piece.done) break;
    size += piece.value.length;
    try {
      const chunk = Buffer.from(piece.value.buffer, piece.value.byteOffset, piece.value.byteLength);
      if (!unpack.write(chunk)) await Promise.race([once(unpack, 'drain'), done]);
    } catch (error) {
      await pieces.return(undefined);
      throw new UnpackError(`${part.name} cannot be unpacked: ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    unpack.end();
    await done;
  } catch (error) {
    throw new UnpackError(`${part.name} cannot be unpacked: ${(error as Error).message}`, { cause: error });
  }
  return size;
}

/** Folders WAL-G leaves empty in a backup; PostgreSQL needs them to exist. */
export const EMPTY_FOLDERS = [
  'pg_wal',
  'pg_wal/archive_status',
  'pg_replslot',
  'pg_stat_tmp',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_subtrans',
  'pg_tblspc',
  'pg_twophase',
  'pg_commit_ts',
  'pg_logical',
  'pg_logical/snapshots',
  'pg_logical/mappings',
];

/** Creates the folders of {@link EMPTY_FOLDERS} that the tars did not hold. */
export async function createEmptyFolders(dataDir: string): Promise<string[]> {
  const created: string[] = [];
  for (const name of EMPTY_FOLDERS) {
    const path = join(dataDir, ...name.split('/'));
    if ((await mkdir(path, { recursive: true, mode: 0o700 })) !== undefined) created.push(path);
  }
  return created;
}
