/**
 * A newcomer's first five minutes, from the README alone: the five-minute tour's commands (the `sh tour`
 * block) run as written in a fresh copy of the checkout's layout — `npm start` (on a free port: the README's
 * 7070 may be taken), then the commands after it — and reach a live dashboard with the sample archive's
 * clusters and an `analyze` of the same folder.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the README five-minute tour', () => {
  let copy: string;
  let monitor: ChildProcess | undefined;
  let url = '';
  let steps: string[] = [];

  beforeAll(async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const block = /^```sh tour\n([\s\S]*?)^```$/m.exec(readme)?.[1];
    steps = (block ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
    // The checkout as a newcomer has it, without anything an earlier run left in walwatch-data/.
    copy = await mkdtemp(join(tmpdir(), 'walwatch-tour-'));
    for (const entry of await readdir(ROOT))
      if (!['walwatch-data', '.git', 'test-artifacts', 'cdk.out'].includes(entry))
        await symlink(join(ROOT, entry), join(copy, entry));
  });

  afterAll(async () => {
    if (monitor?.pid !== undefined && monitor.exitCode === null) {
      const exited = new Promise((resolve) => monitor?.once('exit', resolve));
      // npm, its shell and the monitor: the whole process group, as Ctrl-C in a terminal.
      process.kill(-monitor.pid, 'SIGINT');
      await exited;
    }
    await rm(copy, { recursive: true, force: true });
  });

  it('starts with npm start, then writes and analyses the sample archive', { timeout: 180_000 }, async () => {
    expect(steps[0]).toBe('npm start');
    expect(steps.length).toBeGreaterThanOrEqual(3);
    monitor = spawn('npm', ['start', '--', '--listen', '127.0.0.1:0'], {
      cwd: copy,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
      detached: true,
    });
    let printed = '';
    url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        printed += chunk.toString();
        const match = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(printed);
        if (match) resolve(match[1] as string);
      };
      monitor?.stdout?.on('data', onData);
      monitor?.stderr?.on('data', onData);
      monitor?.once('exit', (code) => reject(new Error(`npm start exited ${code}:\n${printed}`)));
    });
    expect((await fetch(`${url}/`)).headers.get('content-type')).toContain('text/html');

    const results = steps.slice(1).map((step) =>
      spawnSync('bash', ['-c', step], {
        cwd: copy,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      }),
    );
    const [sample, analyze] = results;
    expect(sample?.status, sample?.stderr).toBe(0);
    expect(analyze?.stdout).toContain('spilo/payments/wal/15  CRITICAL');
    expect(analyze?.stdout).toContain('spilo/orders/wal/15  OK');
    expect(analyze?.status).toBe(2);

    // The dashboard's data: the three clusters appear within seconds of the files.
    let ids: string[] = [];
    for (let i = 0; i < 60 && ids.length < 3; i++) {
      const fleet = (await (await fetch(`${url}/clusters`)).json()) as { clusters: Array<{ id: string }> };
      ids = fleet.clusters.map((c) => c.id).sort();
      if (ids.length < 3) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(ids).toEqual(['spilo/orders/wal/15', 'spilo/payments/wal/15', 'spilo/reports/wal/14']);
  });
});
