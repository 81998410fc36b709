/**
 * One monitor per data folder: a lock file holding the owner's process id, created exclusively. A lock whose
 * process is gone (a monitor killed with `kill -9`, a crash, a reboot) is stale and taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Name of the lock file inside the data folder. */
export const LOCK_FILE = 'walwatch.lock';

/** Another running process holds the data folder. */
export class DataFolderLockedError extends Error {
  override readonly name = 'DataFolderLockedError';

  constructor(
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(
      `${lockFile} says walwatch process ${pid} uses this data folder; stop it or give this one another --data (remove the file only if that process is no walwatch)`,
    );
  }
}

/** A held lock. */
export interface DataFolderLock {
  readonly file: string;
  /** Removes the lock file (if it is still ours). */
  release(): Promise<void>;
}

/**
 * Locks `dataDir` for this process; throws `DataFolderLockedError` while another live process holds it.
 *
 * @example
 * const lock = await lockDataFolder('./walwatch-data');
 * try { … } finally { await lock.release(); }
 */
export async function lockDataFolder(dataDir: string): Promise<DataFolderLock> {
  const file = join(dataDir, LOCK_FILE);
  const mine = String(process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(`${mine}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw error;
    }
    const owner = await readOwner(file);
    // This process counts too: a second monitor started in it would share the store's files.
    if (owner !== undefined && (owner === process.pid || isRunning(owner)))
      throw new DataFolderLockedError(file, owner);
    // Stale (its process is gone) or unreadable (a crash while it was written): take it over.
    await rm(file, { force: true });
  }
  return {
    file,
    release: async () => {
      if ((await readOwner(file)) === process.pid) await rm(file, { force: true });
    },
  };
}

async function readOwner(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(file, 'utf8'), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Whether a process of this id exists (signal 0 checks without sending anything). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
