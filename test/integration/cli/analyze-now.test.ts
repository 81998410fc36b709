/**
 * `walwatch analyze --now` reads the same strict ISO 8601 times as the API: an impossible date or time is
 * a usage error (exit 3, one line) instead of a clock rolled over to another day.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as analyze } from '../../../cli/analyze.js';

describe('walwatch analyze --now', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'walwatch-now-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const capture = async (args: string[]) => {
    const err: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err.push(String(chunk));
      return true;
    });
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      return { code: await analyze(args), stderr: err.join('') };
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  };

  it.each([
    ['2026-02-30', '--now 2026-02-30 is not a date: February 2026 has 28 days'],
    ['2026-02-30T20:00:00Z', '--now 2026-02-30T20:00:00Z is not a date: February 2026 has 28 days'],
    ['2026-11-24T24:00:00Z', '--now 2026-11-24T24:00:00Z is not a time: hours run from 00 to 23'],
    ['tomorrow', '--now tomorrow is not an ISO 8601 time such as 2026-11-24T14:32:15Z'],
  ])('refuses --now %s with exit 3 and one line', async (now, message) => {
    const result = await capture(['--dir', dir, '--quiet', '--now', now]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`walwatch analyze: ${message}\n`);
  });

  it('accepts a real date', async () => {
    const result = await capture(['--dir', dir, '--quiet', '--now', '2024-02-29T12:00:00Z']);
    expect(result.stderr).not.toContain('--now');
  });
});
