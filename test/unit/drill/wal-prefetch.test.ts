/**
 * The drill's WAL prefetch against an in-memory archive and a real folder: the plan follows the
 * prediction and the bound, downloads stay within the lookahead of what the server took (a file leaving
 * the folder, or the replay position), no more than two run at once, a hole or an unreadable body ends or
 * skips as recovery would, and stop() returns promptly even over a read that never ends.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { segmentStartLsn, walFileName } from '../../../shared/core/lsn.js';
import type { ClusterReport } from '../../../shared/core/report.js';
import { buildRestoreCommand } from '../../../shared/drill/run-drill.js';
import { parseWalFetchBound } from '../../../shared/drill/wal-fetch.js';
import {
  type PrefetchSegment,
  planPrefetch,
  startWalPrefetch,
  type WalPrefetchOptions,
} from '../../../shared/drill/wal-prefetch.js';
import type { ObjectReader } from '../../../shared/sources/archive-source.js';

const MIB = 1024 * 1024;
const SIZE = 16 * MIB;
const ROOT = 'spilo/demo/wal/15';

function segmentsOf(count: number, first = 3, timeline = 1, size = SIZE): PrefetchSegment[] {
  return Array.from({ length: count }, (_, i) => ({
    name: walFileName(timeline, first + i, size),
    segno: first + i,
  }));
}

function absent(key: string): Error {
  return Object.assign(new Error(`no ${key}`), { code: 'ENOENT' });
}

/** An archive of uncompressed objects (`<name>` with no extension); every read is recorded. */
function memoryArchive(objects: ReadonlyMap<string, Uint8Array>): ObjectReader & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    read: async (key) => {
      const name = key.slice(key.lastIndexOf('/') + 1);
      const body = objects.get(name);
      if (body === undefined) throw absent(key);
      reads.push(name);
      return body;
    },
  };
}

function archiveOf(segments: readonly PrefetchSegment[]): Map<string, Uint8Array> {
  return new Map(segments.map((s) => [s.name, new TextEncoder().encode(`body of ${s.name}`)]));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const settle = (ms = 300) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walwatch-prefetch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(options: Partial<WalPrefetchOptions> & Pick<WalPrefetchOptions, 'reader' | 'segments'>) {
  return startWalPrefetch({ root: ROOT, dir, segmentSize: SIZE, pollMs: 20, ...options });
}

describe('planPrefetch', () => {
  const report = {
    id: ROOT,
    segmentSize: SIZE,
    targetTimeline: 2,
    timelines: [
      { id: 1, parent: null, switchLsn: null, inLineage: true, lastSegment: walFileName(1, 6, SIZE) },
      // Timeline 2 begins inside segment 6: recovery reads segment 6 from timeline 2.
      {
        id: 2,
        parent: 1,
        switchLsn: '0/6000100',
        inLineage: true,
        lastSegment: walFileName(2, 9, SIZE),
      },
    ],
  } as unknown as ClusterReport;

  it('runs from the start segment to the one holding the predicted end, on the timeline of each', () => {
    const plan = planPrefetch(report, 0x3000028n, 0x9000100n);
    expect(plan.map((s) => s.name)).toEqual([
      walFileName(1, 3, SIZE),
      walFileName(1, 4, SIZE),
      walFileName(1, 5, SIZE),
      walFileName(2, 6, SIZE),
      walFileName(2, 7, SIZE),
      walFileName(2, 8, SIZE),
      walFileName(2, 9, SIZE),
    ]);
  });

  it('stops before the segment an end at a segment boundary does not reach', () => {
    expect(planPrefetch(report, 0x3000028n, segmentStartLsn(5, SIZE)).map((s) => s.segno)).toEqual([3, 4]);
  });

  it('stops at the first segment the bound leaves out, and is empty without a predicted end', () => {
    const bound = parseWalFetchBound(`${walFileName(1, 6, SIZE)},${walFileName(2, 7, SIZE)}`);
    expect(planPrefetch(report, 0x3000028n, 0x9000100n, bound).map((s) => s.segno)).toEqual([3, 4, 5, 6, 7]);
    expect(planPrefetch(report, 0x3000028n, null)).toEqual([]);
  });
});

describe('buildRestoreCommand', () => {
  it('moves the prefetched file into place and falls back to wal-fetch, with % doubled in words', () => {
    const command = buildRestoreCommand(
      ['/usr/bin/node', '/scratch/100%full/wal-fetch.mjs'],
      ['--dir', "/backups/it's"],
      '/scratch/100%full/prefetch',
    );
    expect(command).toBe(
      `mv -f /scratch/100%%full/prefetch/"%f" "%p" 2>/dev/null || /usr/bin/node /scratch/100%%full/wal-fetch.mjs "%f" "%p" --dir '/backups/it'\\''s'`,
    );
    expect(buildRestoreCommand(['walwatch', 'wal-fetch'], ['--dir', '/b'])).toBe(
      'walwatch wal-fetch "%f" "%p" --dir /b',
    );
  });
});

describe('startWalPrefetch', () => {
  it('fetches at most 8 segments ahead of the last one the server took', async () => {
    const segments = segmentsOf(20);
    const archive = memoryArchive(archiveOf(segments));
    const prefetch = start({ reader: archive, segments });
    await until(() => prefetch.counts().fetched === 8);
    await settle();
    expect(archive.reads).toHaveLength(8);
    expect((await readdir(dir)).sort()).toEqual(segments.slice(0, 8).map((s) => s.name));

    // The server takes the first three: their files leave the folder.
    for (const segment of segments.slice(0, 3)) await rm(join(dir, segment.name));
    await until(() => prefetch.counts().fetched === 11);
    await settle();
    expect(prefetch.counts()).toMatchObject({ planned: 20, fetched: 11, served: 3, failed: 0, absent: 0 });
    expect((await readdir(dir)).sort()).toEqual(segments.slice(3, 11).map((s) => s.name));
    expect(await prefetch.stop()).toMatchObject({ fetched: 11, served: 3 });
  });

  it('holds 64 MiB segments to 256 MiB ahead: four segments', async () => {
    const segments = segmentsOf(10, 1, 1, 64 * MIB);
    const archive = memoryArchive(archiveOf(segments));
    const prefetch = start({ reader: archive, segments, segmentSize: 64 * MIB });
    await until(() => prefetch.counts().fetched === 4);
    await settle();
    expect(archive.reads).toHaveLength(4);
    await prefetch.stop();
  });

  it('moves on with the replay position, dropping files the server fetched itself', async () => {
    const segments = segmentsOf(20);
    const archive = memoryArchive(archiveOf(segments));
    const prefetch = start({ reader: archive, segments });
    await until(() => prefetch.counts().fetched === 8);
    // Replay is inside the sixth planned segment (index 5): none of the first five files was taken.
    prefetch.noteReplayed(segmentStartLsn((segments[5] as PrefetchSegment).segno, SIZE) + 100n);
    // Eight segments after it: up to index 13.
    await until(() => prefetch.counts().fetched === 14);
    await settle();
    expect(archive.reads).toHaveLength(14);
    const left = (await readdir(dir)).sort();
    // Files two or more segments behind are dropped; the one just behind may still be asked for.
    expect(left).toEqual(segments.slice(4, 14).map((s) => s.name));
    expect((await prefetch.stop()).served).toBe(0);
  });

  it('runs at most two downloads at once', async () => {
    const segments = segmentsOf(8);
    const bodies = archiveOf(segments);
    let running = 0;
    let most = 0;
    const reader: ObjectReader = {
      read: async (key) => {
        const body = bodies.get(key.slice(key.lastIndexOf('/') + 1));
        if (body === undefined) throw absent(key);
        running += 1;
        most = Math.max(most, running);
        await settle(30);
        running -= 1;
        return body;
      },
    };
    const prefetch = start({ reader, segments });
    await until(() => prefetch.counts().fetched === 8);
    expect(most).toBe(2);
    await prefetch.stop();
  });

  it('stops at a segment the archive does not hold: recovery ends there', async () => {
    const segments = segmentsOf(12);
    const bodies = archiveOf(segments);
    bodies.delete((segments[3] as PrefetchSegment).name);
    const archive = memoryArchive(bodies);
    const prefetch = start({ reader: archive, segments });
    await until(() => prefetch.counts().absent === 1);
    await settle();
    // The segment after the hole may have been under way beside it; none after that is read.
    const later = new Set(segments.slice(5).map((s) => s.name));
    expect(archive.reads.filter((name) => later.has(name))).toEqual([]);
    expect(await prefetch.stop()).toMatchObject({ absent: 1, failed: 0 });
  });

  it('leaves a body that cannot be decompressed to restore_command, with no file or temporary left', async () => {
    const segments = segmentsOf(4);
    const bad = (segments[1] as PrefetchSegment).name;
    const reader: ObjectReader = {
      read: async (key) => {
        const name = key.slice(key.lastIndexOf('/') + 1);
        if (name === `${bad}.lz4`) return new Uint8Array([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 1, 2, 3]);
        if (name.endsWith('.lz4') || name.includes('.')) throw absent(key);
        const segment = segments.find((s) => s.name === name);
        if (!segment) throw absent(key);
        return new Uint8Array([1, 2, 3]);
      },
    };
    const prefetch = start({ reader, segments });
    await until(() => prefetch.counts().fetched === 3);
    expect(await prefetch.stop()).toMatchObject({ planned: 4, fetched: 3, failed: 1 });
    const left = await readdir(dir);
    expect(left).not.toContain(bad);
    expect(left.filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('stop() returns over a read that never ends, aborts it, and returns the same counts again', async () => {
    const segments = segmentsOf(6);
    const signals: AbortSignal[] = [];
    let reads = 0;
    const reader: ObjectReader = {
      // A hung GET that does not even listen to its signal.
      read: (_key, options) => {
        reads += 1;
        if (options?.signal) signals.push(options.signal);
        return new Promise<Uint8Array>(() => undefined);
      },
    };
    const prefetch = start({ reader, segments });
    await until(() => reads === 2);
    // Were stop() to wait for the read, it would never return and the test would time out.
    const counts = await prefetch.stop();
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    expect(counts).toEqual({ planned: 6, fetched: 0, served: 0, failed: 0, absent: 0 });
    expect(await prefetch.stop()).toEqual(counts);
    await settle(100);
    expect(reads).toBe(2);
    expect(await readdir(dir)).toEqual([]);
  });
});
