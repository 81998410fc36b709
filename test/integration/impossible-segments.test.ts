/**
 * Segments of impossible sizes through the real paths: the ingest fold against dynalite keeps them as
 * `wrong-size` defects from the events' sizes alone; `walwatch analyze --content all` on a real folder
 * does not read an over-sized file and reports a body that expands past a segment as `wrong-size`, not as
 * unreadable content.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as analyze } from '../../cli/analyze.js';
import { analyzeCluster } from '../../shared/core/analyze.js';
import type { ObjectEvent } from '../../shared/core/facts.js';
import { walFileName } from '../../shared/core/lsn.js';
import { ingestMessages } from '../../shared/events/ingest-messages.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { notificationBody } from '../support/s3-notification-body.js';
import { buildCommitSegment } from '../support/wal-builder.js';

const MIB = 1024 * 1024;
const BUCKET = 'archive';
const CLUSTER = 'spilo/sizes/wal/15';
const AT = Date.parse('2026-11-20T08:00:00Z');

describe('ingest of segments of impossible sizes', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('keeps them as wrong-size defects until a sound copy replaces them', async () => {
    const deps = {
      db: dynamo.db,
      table: dynamo.table,
      segmentSizeOf: () => 16 * MIB,
      readDocument: async () => ({
        text: JSON.stringify({ LSN: 16 * MIB + 40, FinishLSN: 32 * MIB + 80 }),
      }),
    };
    const event = (key: string, size: number, sequencer: string): ObjectEvent => ({
      key: `${CLUSTER}/${key}`,
      type: 'created',
      at: AT,
      size,
      etag: `e${sequencer}`,
      sequencer,
    });
    const segment = (segno: number, extension: string) =>
      `wal_005/${walFileName(1, segno, 16 * MIB)}${extension}`;
    const events = [
      event('basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json', 60, '01'),
      event(segment(1, '.lz4'), 4000, '02'),
      event(segment(2, '.lz4'), 4000, '03'),
      event(segment(3, ''), 0, '04'),
      event(segment(4, ''), 50_000_000, '05'),
      event(segment(5, '.lz4'), 4000, '06'),
    ];
    const report = await ingestMessages(
      deps,
      BUCKET,
      events.map((e, i) => ({ messageId: String(i), body: notificationBody(BUCKET, e) })),
    );
    expect(report.failures).toEqual([]);
    const analysed = async () => {
      const stored = await getClusterStateWithParts(dynamo.db, dynamo.table, CLUSTER);
      return analyzeCluster(stored?.state as never, { now: AT + 60_000 });
    };
    let cluster = await analysed();
    expect(cluster.latestRecoverable?.segment).toBe(walFileName(1, 2, 16 * MIB));
    expect(cluster.problems.filter((p) => p.kind === 'wal-corrupt').map((p) => p.subject)).toEqual([
      walFileName(1, 3, 16 * MIB),
      walFileName(1, 4, 16 * MIB),
    ]);

    await ingestMessages(deps, BUCKET, [
      { messageId: 'copy', body: notificationBody(BUCKET, event(segment(3, '.lz4'), 4000, '07')) },
      {
        messageId: 'gone',
        body: notificationBody(BUCKET, { ...event(segment(4, ''), 0, '08'), type: 'removed' }),
      },
      { messageId: 'again', body: notificationBody(BUCKET, event(segment(4, '.lz4'), 4000, '09')) },
    ]);
    cluster = await analysed();
    expect(cluster.latestRecoverable?.segment).toBe(walFileName(1, 5, 16 * MIB));
    expect(cluster.problems.map((p) => p.kind)).not.toContain('wal-corrupt');
  });
});

describe('walwatch analyze --content all with segments of impossible sizes', () => {
  let archive: string;
  beforeAll(async () => {
    archive = await mkdtemp(join(tmpdir(), 'walwatch-sizes-'));
    const write = async (key: string, body: Uint8Array | string): Promise<void> => {
      await mkdir(dirname(join(archive, CLUSTER, key)), { recursive: true });
      await writeFile(join(archive, CLUSTER, key), body);
    };
    await write(
      'basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json',
      JSON.stringify({ LSN: MIB + 40, FinishLSN: 2 * MIB + 80 }),
    );
    const wal = (segno: number, extension = '') => `wal_005/${walFileName(1, segno, MIB)}${extension}`;
    for (const segno of [1, 2, 3, 6])
      await write(
        wal(segno),
        buildCommitSegment(segno, MIB, 7_400_000_000_000_000_005n, AT + segno * 60_000),
      );
    // Three segments of data where one belongs: over-sized, never read.
    await write(wal(4), new Uint8Array(3 * MIB));
    // A small gzip body that expands to 3 MiB: only reading it tells.
    await write(wal(5, '.gz'), gzipSync(new Uint8Array(3 * MIB)));
  });
  afterAll(async () => {
    await rm(archive, { recursive: true, force: true });
  });

  it('reports both as wrong-size defects that end the chain', async () => {
    const out: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await analyze([
        '--dir',
        archive,
        '--segment-size',
        '1MiB',
        '--content',
        '--all-segments',
        '--json',
        '--quiet',
        '--now',
        new Date(AT + 600_000).toISOString(),
      ]);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const [cluster] = (
      JSON.parse(out.join('')) as {
        clusters: {
          latestRecoverable: { segment: string } | null;
          problems: { kind: string; subject: string; message: string }[];
        }[];
      }
    ).clusters;
    expect(cluster?.latestRecoverable?.segment).toBe(walFileName(1, 3, MIB));
    const corrupt = cluster?.problems.filter((p) => p.kind === 'wal-corrupt') ?? [];
    expect(corrupt.map((p) => p.subject)).toEqual([walFileName(1, 4, MIB), walFileName(1, 5, MIB)]);
    expect(corrupt.every((p) => p.message.includes('wrong-size'))).toBe(true);
    expect(cluster?.problems.map((p) => p.kind)).not.toContain('content-unreadable');
  });
});
