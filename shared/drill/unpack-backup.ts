/**
 * Downloads a WAL-G base backup's tar partitions and unpacks them into a data directory, in the order
 * `wal-g backup-fetch` does: the data parts (`part_001.tar.*` …), then `backup_label.tar.*`, and
 * `pg_control.tar.*` last, so that an interrupted unpack never leaves a control file that looks restorable.
 * For one backup of a delta chain, a {@link TarSelection} says which files to take and which are
 * increments to apply over the file already there (`docs/drills.md`, "Delta backups").
 */

import { constants } from 'node:buffer';
import { once } from 'node:events';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, type ReadEntry, Unpack } from 'tar';
import { compressionMethodOfKey } from '../codec/compression-method.js';
import { decompressChunks } from '../codec/decompress.js';
import { dataPathOf, LABEL_FILES } from '../core/delta-chain.js';
import { PAGE_SIZE, parseIncrement } from '../core/walg-increment.js';
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
  return (await listTarPartsOf(source, cluster, [backup])).get(backup) as TarPart[];
}

/**
 * {@link listTarParts} for several backups (a delta chain) in one listing of the archive.
 *
 * @throws {MissingTarPartError} naming what is absent from the first backup that lacks a part
 */
export async function listTarPartsOf(
  source: ArchiveSource,
  cluster: string,
  backups: readonly string[],
): Promise<Map<string, TarPart[]>> {
  const root = `${cluster === '' ? '' : `${cluster}/`}basebackups_005/`;
  const found = new Map<string, TarPart[]>(backups.map((backup) => [backup, []]));
  for await (const object of source.list()) {
    if (!object.key.startsWith(root)) continue;
    const rest = object.key.slice(root.length);
    const slash = rest.indexOf('/');
    const parts = found.get(rest.slice(0, slash));
    if (slash === -1 || !parts || !rest.startsWith('tar_partitions/', slash + 1)) continue;
    const { baseName } = compressionMethodOfKey(object.key);
    if (!baseName.endsWith('.tar')) continue;
    parts.push({ key: object.key, name: baseName, size: object.size ?? null });
  }
  return new Map(backups.map((backup) => [backup, orderTarParts(backup, found.get(backup) ?? [])]));
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

/** Which regular files to take from a backup's tars when it is one step of a delta chain. */
export interface TarSelection {
  /** The backup, for messages. */
  readonly backup: string;
  /** Data paths (`base/1/1259`) of the regular files to take; other regular members are passed over. */
  readonly files: ReadonlySet<string>;
  /** Of `files`, those stored as WAL-G increments, applied over the file already in the data directory. */
  readonly increments: ReadonlySet<string>;
  /** Whether to take `global/pg_control`, `backup_label` and `tablespace_map` (the newest backup only). */
  readonly labelFiles: boolean;
  /** Collects the data path of every regular file taken, to check afterwards that none was missing. */
  readonly seen: Set<string>;
}

/** A part downloaded or unpacked. */
export type UnpackProgress =
  | { phase: 'download'; part: string; bytes: number; totalBytes: number }
  | { phase: 'unpack'; part: string; done: number; total: number };

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
    readonly onProgress?: (event: UnpackProgress) => void;
    readonly clock?: () => number;
    /** Take only these files, applying increments. @default every member */
    readonly selection?: TarSelection;
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
    const unpacked = await unpackTar(part, body, dataDir, options.owner, options.selection);
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
 * With a `selection`, regular members outside it are passed over, and increments (collected as they pass)
 * are applied after the rest of the part.
 *
 * @throws {UnpackError} when the body cannot be decompressed or the tar cannot be unpacked
 */
export async function unpackTar(
  part: Pick<TarPart, 'key' | 'name'>,
  body: Uint8Array,
  dataDir: string,
  owner?: { readonly uid: number; readonly gid: number },
  selection?: TarSelection,
): Promise<number> {
  const takes = (path: string): boolean =>
    selection === undefined || selection.files.has(path) || (selection.labelFiles && LABEL_FILES.has(path));
  const problems: string[] = [];
  const unpack = new Unpack({
    cwd: dataDir,
    // WAL-G names members `/base/1/1259`: node-tar strips the `/` with an informational warning, which
    // strict mode would turn into an error. Every other warning fails the part below.
    onwarn: (code, message) => {
      if (code !== 'TAR_ENTRY_INFO') problems.push(`${code}: ${message}`);
    },
    filter: (path, entry) => {
      if (selection === undefined || !isRegularFile(entry)) return true;
      const dataPath = dataPathOf(path);
      if (!takes(dataPath) || selection.increments.has(dataPath)) return false;
      selection.seen.add(dataPath);
      return true;
    },
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
  const increments = selection && selection.increments.size > 0 ? collectIncrements(selection) : undefined;
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
      if (increments && !increments.parser.write(chunk)) await once(increments.parser, 'drain');
      if (!unpack.write(chunk)) await Promise.race([once(unpack, 'drain'), done]);
    } catch (error) {
      await pieces.return(undefined);
      throw new UnpackError(`${part.name} cannot be unpacked: ${(error as Error).message}`, { cause: error });
    }
  }
  try {
    unpack.end();
    await done;
    if (problems.length > 0) throw new Error(problems.join('; '));
  } catch (error) {
    throw new UnpackError(`${part.name} cannot be unpacked: ${(error as Error).message}`, { cause: error });
  }
  if (increments && selection) await applyIncrements(part, await increments.finish(), dataDir, selection);
  return size;
}

/** Whether a member is a regular file (node-tar hands filters a `ReadEntry` when unpacking). */
function isRegularFile(entry: unknown): boolean {
  const type = (entry as { readonly type?: unknown }).type;
  return type === 'File' || type === 'OldFile' || type === 'ContiguousFile';
}

/**
 * A second tar parser fed the same pieces as the unpack, keeping the bodies of the part's increment
 * members (copied: the pieces' memory may be reused) until {@link applyIncrements} applies them.
 */
function collectIncrements(selection: TarSelection): {
  readonly parser: Parser;
  finish(): Promise<Map<string, Buffer>>;
} {
  const bodies = new Map<string, Buffer>();
  const parser = new Parser({
    filter: (path, entry) => isRegularFile(entry) && selection.increments.has(dataPathOf(path)),
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
      entry.on('end', () => bodies.set(dataPathOf(entry.path), Buffer.concat(chunks)));
    },
  });
  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('end', () => resolve());
    parser.on('error', reject);
  });
  parsed.catch(() => {});
  return {
    parser,
    finish: async () => {
      parser.end();
      await parsed;
      return bodies;
    },
  };
}

/**
 * Applies the part's increment members over the files already in the data directory, as WAL-G's
 * `ApplyFileIncrement` does: truncate or extend the file to the increment's size, then write each page at
 * its block. Each increment is checked whole before its file is touched.
 */
async function applyIncrements(
  part: Pick<TarPart, 'name'>,
  bodies: ReadonlyMap<string, Buffer>,
  dataDir: string,
  selection: TarSelection,
): Promise<void> {
  for (const [path, bytes] of bodies) {
    const increment = parseIncrement(bytes);
    if (!increment.ok)
      throw new UnpackError(`corrupt increment ${path} in ${selection.backup}: ${increment.error}`);
    selection.seen.add(path);
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(join(dataDir, ...path.split('/')), 'r+');
    } catch (error) {
      throw new UnpackError(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? `${selection.backup} holds an increment of ${path} (${part.name}), but the backups before it left no such file`
          : `cannot open ${path} to apply its increment from ${selection.backup}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      const { fileSize, blocks } = increment.value;
      await file.truncate(fileSize);
      for (const [index, block] of blocks.entries())
        await file.write(increment.value.page(index), 0, PAGE_SIZE, block * PAGE_SIZE);
    } catch (error) {
      throw new UnpackError(
        `cannot apply the increment of ${path} from ${selection.backup}: ${(error as Error).message}`,
        { cause: error },
      );
    } finally {
      await file.close();
    }
  }
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
