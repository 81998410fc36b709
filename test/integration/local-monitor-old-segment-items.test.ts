/**
 * The local monitor started on a data folder whose store an older release wrote (segment items keyed by
 * timeline and segment number): the first new WAL of the cluster moves the items to their WAL-file-name
 * keys, and the API then answers as a monitor that never had the old layout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import { startEmbeddedStore } from '../../shared/local/embedded-store.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { type GeneratedObject, generateArchive } from '../support/archive-generator.js';
import { writeGeneratedObjects } from '../support/folder-archive.js';
import { rewriteToOldLayout, scanItems } from '../support/old-segment-items.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/old/wal/15';

describe('local monitor on a store of the old segment item layout', () => {
  let root: string;
  let archive: string;
  const monitors: LocalMonitor[] = [];
  const start = async (name: string): Promise<LocalMonitor> => {
    const monitor = await startLocalMonitor({
      dataDir: join(root, name),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: 16 * MIB,
      readContent: { default: 'off', clusters: [] },
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
    });
    monitors.push(monitor);
    await monitor.syncNow();
    return monitor;
  };
  const report = async (monitor: LocalMonitor): Promise<ClusterReport> => {
    const response = await fetch(`${monitor.url}/clusters/${encodeURIComponent(CLUSTER)}`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { cluster: ClusterReport }).cluster;
  };
  const verdicts = (cluster: ClusterReport) => ({
    segmentSize: cluster.segmentSize,
    headSegment: cluster.headSegment,
    gaps: cluster.gaps,
    timelines: cluster.timelines,
    backups: cluster.backups.map((backup) => [backup.name, backup.status]),
    latest: cluster.latestRecoverable?.segment,
    problems: cluster.problems.map((problem) => problem.kind).sort(),
  });

  let upgraded: ClusterReport;
  let fresh: ClusterReport;
  let oldItems: number;
  let segmentPks: string[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-old-items-'));
    archive = join(root, 'archive');
    // Segments 250 … 289 (0xFA … 0x121) of 16 MiB: past xlogid 0 the two layouts spell other keys.
    const objects = generateArchive({
      clusterId: CLUSTER,
      segmentSize: 16 * MIB,
      segments: 40,
      firstSegno: 250,
      switches: [],
      backups: [2],
    }).map((object) => (object.key.includes('/wal_005/') ? { ...object, size: 1000 } : object));
    const isWal = (object: GeneratedObject) => object.key.includes('/wal_005/');
    const wal = objects.filter(isWal);
    const first = [...objects.filter((object) => !isWal(object)), ...wal.slice(0, 30)];
    await writeGeneratedObjects(archive, first);
    await (await start('upgraded')).stop();
    monitors.pop();
    const store = await startEmbeddedStore({ dataDir: join(root, 'upgraded', 'store') });
    oldItems = await rewriteToOldLayout(store.db, store.table, 16 * MIB);
    await store.stop();

    await writeGeneratedObjects(archive, wal.slice(30));
    upgraded = await report(await start('upgraded'));
    fresh = await report(await start('fresh'));
    for (const monitor of monitors.splice(0)) await monitor.stop();
    const after = await startEmbeddedStore({ dataDir: join(root, 'upgraded', 'store') });
    segmentPks = (await scanItems(after.db, after.table))
      .map((item) => String(item.pk))
      .filter((pk) => pk.startsWith('s#'));
    await after.stop();
  }, 120_000);

  afterAll(async () => {
    for (const monitor of monitors) await monitor.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers as a monitor that never had the old layout', () => {
    expect(oldItems).toBeGreaterThan(0);
    expect(upgraded.headSegment).toBe('000000010000000100000021');
    expect(verdicts(upgraded)).toEqual(verdicts(fresh));
  });

  it('keeps every segment item under its WAL file name', () => {
    expect(segmentPks).toHaveLength(40);
    for (const pk of segmentPks)
      expect(pk).toMatch(/^s#000000010000000[01]000000[0-9A-F]{2}#spilo\/old\/wal\/15$/);
  });
});
