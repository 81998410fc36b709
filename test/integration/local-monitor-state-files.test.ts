/**
 * The local monitor's own files: a damaged saved folder scan, a data folder another monitor uses, a port in
 * use. The lock and port cases run real `walwatch serve` processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { walFileName } from '../../shared/core/lsn.js';
import { DataFolderLockedError, lockDataFolder } from '../../shared/local/data-lock.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';

const BIN = fileURLToPath(new URL('../../bin/walwatch.js', import.meta.url));
const MIB = 1024 * 1024;
const CLUSTER = 'spilo/state/wal/15';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'walwatch-state-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

describe('the saved folder scan', () => {
  const monitors: LocalMonitor[] = [];
  afterAll(async () => {
    for (const monitor of monitors) await monitor.stop();
  });

  it('is replaced by a full rescan when damaged, which still finds the files removed meanwhile', async () => {
    const archive = join(root, 'scan-archive');
    const dataDir = join(root, 'scan-data');
    const write = async (key: string, body: Uint8Array | string): Promise<void> => {
      await mkdir(dirname(join(archive, key)), { recursive: true });
      await writeFile(join(archive, key), body);
    };
    await write(
      `${CLUSTER}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
      JSON.stringify({ LSN: MIB + 40, FinishLSN: 2 * MIB + 80 }),
    );
    for (let segno = 1; segno <= 4; segno++)
      await write(`${CLUSTER}/wal_005/${walFileName(1, segno, MIB)}`, new Uint8Array(MIB));
    const lines: string[] = [];
    const start = async (): Promise<LocalMonitor> => {
      const monitor = await startLocalMonitor({
        dataDir,
        archiveDir: archive,
        host: '127.0.0.1',
        port: 0,
        segmentSize: MIB,
        sweepIntervalMs: 3_600_000,
        readContent: { default: 'off', clusters: [] },
        log: (line) => lines.push(line),
      });
      monitors.push(monitor);
      return monitor;
    };
    const first = await start();
    await first.stop();
    monitors.pop();

    const scanFile = join(dataDir, 'store', 'folder-scan.json');
    const saved = await readFile(scanFile, 'utf8');
    expect(Object.keys(JSON.parse(saved) as object)).toHaveLength(5);
    expect(await exists(`${scanFile}.tmp`)).toBe(false);
    // Removed while the monitor was down, and the saved scan torn in half.
    await rm(join(archive, CLUSTER, 'wal_005', walFileName(1, 3, MIB)));
    await truncate(scanFile, Math.floor(saved.length / 2));

    const second = await start();
    expect(lines.filter((line) => line.includes('folder-scan.json is damaged'))).toHaveLength(1);
    const response = await fetch(`${second.url}/clusters/${encodeURIComponent(CLUSTER)}`);
    const { cluster } = (await response.json()) as {
      cluster: { problems: { kind: string; subject: string }[] };
    };
    expect(cluster.problems).toContainEqual(
      expect.objectContaining({ kind: 'wal-deleted', subject: walFileName(1, 3, MIB) }),
    );
    expect(Object.keys(JSON.parse(await readFile(scanFile, 'utf8')) as object)).toHaveLength(4);
  });
});

describe('walwatch serve processes', () => {
  const children: ChildProcess[] = [];
  let blocker: Server | undefined;
  afterEach(async () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.length = 0;
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    blocker = undefined;
  });

  /** Starts `walwatch serve` and collects its stderr. */
  const serve = (args: string[]) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  };
  const runningAt = async (started: ReturnType<typeof serve>): Promise<string> => {
    for (let i = 0; i < 600; i++) {
      const match = /dashboard\s+(http:\/\/\S+)\//.exec(started.stderr());
      if (match) return match[1] as string;
      if (started.child.exitCode !== null) throw new Error(`serve exited: ${started.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`serve did not start: ${started.stderr()}`);
  };

  it('exits 3 with one line, creating nothing, when the port is in use', async () => {
    const server = createServer();
    blocker = server;
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    const dataDir = join(root, 'port-data');
    const archive = join(root, 'port-archive');
    const started = serve(['--data', dataDir, '--dir', archive, '--listen', `127.0.0.1:${port}`]);
    expect(await started.exited).toBe(3);
    expect(started.stderr()).toBe(
      `walwatch serve: 127.0.0.1:${port} is in use; choose another with --listen\n`,
    );
    expect(await exists(dataDir)).toBe(false);
    expect(await exists(archive)).toBe(false);
  }, 60_000);

  it('refuses a second monitor on the same data folder in one line, and takes over the lock of a killed one', async () => {
    const dataDir = join(root, 'lock-data');
    const args = ['--data', dataDir, '--dir', join(root, 'lock-archive'), '--listen', '127.0.0.1:0'];
    const first = serve(args);
    const url = await runningAt(first);

    const second = serve(args);
    expect(await second.exited).toBe(3);
    expect(second.stderr()).toBe(
      `walwatch serve: ${join(dataDir, 'walwatch.lock')} says walwatch process ${first.child.pid} uses this data folder; stop it or give this one another --data (remove the file only if that process is no walwatch)\n`,
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    first.child.kill('SIGKILL');
    await first.exited;
    const third = serve(args);
    await runningAt(third);
    third.child.kill('SIGINT');
    expect(await third.exited).toBe(0);
    expect(await exists(join(dataDir, 'walwatch.lock'))).toBe(false);
  }, 120_000);
});

describe('lockDataFolder', () => {
  it('refuses a second lock of the same folder in one process until the first is released', async () => {
    const dataDir = join(root, 'in-process');
    await mkdir(dataDir, { recursive: true });
    const first = await lockDataFolder(dataDir);
    await expect(lockDataFolder(dataDir)).rejects.toThrow(DataFolderLockedError);
    await first.release();
    const again = await lockDataFolder(dataDir);
    await again.release();
    expect(await exists(join(dataDir, 'walwatch.lock'))).toBe(false);
  });

  it('takes over a lock whose process is gone', async () => {
    const dataDir = join(root, 'stale');
    await mkdir(dataDir, { recursive: true });
    // A process id that no process has: above the kernel's limit.
    await writeFile(join(dataDir, 'walwatch.lock'), `${2 ** 22 + 1}\n`);
    const lock = await lockDataFolder(dataDir);
    expect(await readFile(join(dataDir, 'walwatch.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
  });
});
