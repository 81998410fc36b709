/**
 * A real folder archive whose newest segment file has mtime 2099: `walwatch analyze` reports no negative
 * age and a critical `clock-skew`, in JSON and in text.
 */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as analyze } from '../../cli/analyze.js';
import { walFileName } from '../../shared/core/lsn.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/future/wal/15';
const NOW = '2026-11-20T09:00:00Z';

describe('walwatch analyze with a file stamped 2099', () => {
  let archive: string;

  beforeAll(async () => {
    archive = await mkdtemp(join(tmpdir(), 'walwatch-future-'));
    const write = async (key: string, body: Uint8Array | string, at: Date): Promise<void> => {
      const path = join(archive, key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, body);
      await utimes(path, at, at);
    };
    const base = Date.parse('2026-11-20T08:00:00Z');
    await write(
      `${CLUSTER}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
      JSON.stringify({ LSN: MIB + 40, FinishLSN: 2 * MIB + 80, FinishTime: '2026-11-20T08:01:00Z' }),
      new Date(base + 60_000),
    );
    for (let segno = 1; segno <= 4; segno++)
      await write(
        `${CLUSTER}/wal_005/${walFileName(1, segno, MIB)}`,
        new Uint8Array(MIB),
        segno === 4 ? new Date('2099-01-01T00:00:00Z') : new Date(base + segno * 60_000),
      );
  });
  afterAll(async () => {
    await rm(archive, { recursive: true, force: true });
  });

  it('reports archive age zero and clock-skew instead of a negative age', async () => {
    const json = await capture(() =>
      analyze(['--dir', archive, '--segment-size', '1MiB', '--now', NOW, '--json', '--quiet']),
    );
    const [cluster] = (
      JSON.parse(json.stdout) as {
        clusters: { archiveAgeSeconds: number; problems: { kind: string; severity: string }[] }[];
      }
    ).clusters;
    expect(cluster?.archiveAgeSeconds).toBe(0);
    expect(cluster?.problems).toContainEqual(
      expect.objectContaining({ kind: 'clock-skew', severity: 'critical' }),
    );
    expect(json.code).toBe(2);

    const text = await capture(() =>
      analyze(['--dir', archive, '--segment-size', '1MiB', '--now', NOW, '--quiet']),
    );
    expect(text.stdout).toContain('clock-skew');
    expect(text.stdout).not.toMatch(/\(-[^)]*ago\)/);
  });
});

async function capture(command: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  const out: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await command(), stdout: out.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
