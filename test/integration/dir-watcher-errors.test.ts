/**
 * DirectoryWatcher on a real folder holding a symlink loop: every watch event and scan there fails with
 * ELOOP, and the watcher says so once per path until that path changes.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectEvent } from '../../shared/core/facts.js';
import { DirectoryWatcher } from '../../shared/local/dir-watcher.js';

describe('DirectoryWatcher errors', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-eloop-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reports an ELOOP once per path until the path changes, while files keep arriving', async () => {
    const archive = join(root, 'archive');
    const wal = join(archive, 'spilo', 'loop', 'wal', '15', 'wal_005');
    await mkdir(wal, { recursive: true });
    await symlink('loop-b', join(wal, 'loop-a'));
    await symlink('loop-a', join(wal, 'loop-b'));
    const errors: NodeJS.ErrnoException[] = [];
    const keys = new Set<string>();
    const watcher = new DirectoryWatcher({
      root: archive,
      snapshotFile: join(root, 'folder-scan.json'),
      onEvents: async (events: ObjectEvent[]) => {
        for (const event of events) keys.add(event.key);
      },
      onError: (error) => errors.push(error as NodeJS.ErrnoException),
      debounceMs: 10,
      rescanMs: 50,
    });
    await watcher.start();
    try {
      const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
      for (let segno = 1; segno <= 20; segno++) {
        await writeFile(join(wal, `0000000100000000000000${String(segno).padStart(2, '0')}`), 'x');
        await watcher.scanNow();
      }
      await settle();
      expect(keys.size).toBe(20);
      const loops = () => errors.filter((error) => error.code === 'ELOOP');
      expect(loops().length).toBeGreaterThan(0);
      const byPath = new Map<string, number>();
      for (const error of loops()) byPath.set(String(error.path), (byPath.get(String(error.path)) ?? 0) + 1);
      expect([...byPath.values()].every((count) => count === 1)).toBe(true);

      // The loop is removed (the error there is gone), then made again: news again, once.
      const before = loops().length;
      await rm(join(wal, 'loop-a'));
      await rm(join(wal, 'loop-b'));
      await watcher.scanNow();
      await settle();
      await symlink('loop-b', join(wal, 'loop-a'));
      await symlink('loop-a', join(wal, 'loop-b'));
      for (let segno = 21; segno <= 30; segno++) {
        await writeFile(join(wal, `0000000100000000000000${String(segno).padStart(2, '0')}`), 'x');
        await watcher.scanNow();
      }
      await settle();
      expect(loops().length).toBeGreaterThan(before);
      expect(loops().length).toBeLessThanOrEqual(before + 2);
    } finally {
      await watcher.stop();
    }
  });
});
