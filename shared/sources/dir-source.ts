/**
 * A folder treated as a bucket: each file's path relative to the folder is its key (with `/`), its mtime
 * the time it was stored. This is also how WAL-G's file storage (`WALG_FILE_PREFIX`) lays out objects.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ListedObject } from '../core/state.js';
import { type ArchiveSource, SourceAccessError } from './archive-source.js';

/** Opens `root` as an archive source; fails with `SourceAccessError` if it is not a readable folder. */
export async function openDirSource(root: string): Promise<ArchiveSource> {
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw new SourceAccessError(`${root} is not a folder`);
  } catch (error) {
    if (error instanceof SourceAccessError) throw error;
    throw new SourceAccessError(`cannot read folder ${root}: ${(error as Error).message}`, { cause: error });
  }
  return {
    description: root,
    list: () => walk(root, root),
    read: async (key, options) => {
      const signal = options?.signal;
      try {
        return new Uint8Array(await readFile(join(root, ...key.split('/')), signal ? { signal } : {}));
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw new SourceAccessError(`cannot read ${key}: ${(error as Error).message}`, { cause: error });
      }
    },
    readHead: async (key, length) => {
      try {
        const file = await open(join(root, ...key.split('/')));
        try {
          const buffer = new Uint8Array(length);
          let filled = 0;
          for (;;) {
            const { bytesRead } = await file.read(buffer, filled, length - filled, filled);
            if (bytesRead === 0) break;
            filled += bytesRead;
            if (filled === length) break;
          }
          return buffer.subarray(0, filled);
        } finally {
          await file.close();
        }
      } catch (error) {
        throw new SourceAccessError(`cannot read ${key}: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}

/** Whether a file name is a temporary upload (WAL-G's file storage and our own writers rename into place). */
function isTemporary(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part');
}

async function* walk(root: string, folder: string): AsyncGenerator<ListedObject> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    // A folder removed while walking (retention running) is simply gone.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SourceAccessError(`cannot list ${folder}: ${(error as Error).message}`, { cause: error });
  }
  for (const entry of entries) {
    if (isTemporary(entry.name)) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      yield* walk(root, path);
    } else if (entry.isFile()) {
      let info: import('node:fs').Stats;
      try {
        info = await stat(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new SourceAccessError(`cannot stat ${path}: ${(error as Error).message}`, { cause: error });
      }
      yield { key: relative(root, path).split(sep).join('/'), at: info.mtimeMs, size: info.size, etag: null };
    }
  }
}
