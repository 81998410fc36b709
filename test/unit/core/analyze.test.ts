import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { MemoryArchive } from '../../../shared/core/memory-archive.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import {
  type ArchiveSpec,
  contentLookup,
  type GeneratedObject,
  generateArchive,
} from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
/** Stored-at of segment `segno` in generated archives that start at segno 1. */
const storedAt = (segno: number): number => START + (segno - 1) * MINUTE;

/** Applies a created event for every object, in order. */
function foldAll(archive: MemoryArchive, objects: readonly GeneratedObject[]): void {
  for (const [i, o] of objects.entries()) {
    archive.apply({ ...o, type: 'created', sequencer: `${i}` }, o.content ? { text: o.content } : undefined);
  }
}

function stateOf(objects: readonly GeneratedObject[], segmentSize = 16 * MIB): ClusterState {
  const states = buildClusterStates(objects, contentLookup(objects), () => segmentSize);
  expect(states.size).toBe(1);
  return [...states.values()][0] as ClusterState;
}

const failover: ArchiveSpec = {
  clusterId: 'spilo/superman/wal/15',
  segmentSize: 16 * MIB,
  segments: 30,
  switches: [14],
  midSegmentSwitch: true,
  divergedTail: 2,
  backups: [2, 20],
  holes: [25],
};

describe('analyzeCluster', () => {
  it('follows a failover to timeline 2 and stops the recovery chain at a hole', () => {
    const now = storedAt(30) + 10 * MINUTE;
    const report = analyzeCluster(stateOf(generateArchive(failover)), { now });

    expect(report).toMatchObject({
      id: 'spilo/superman/wal/15',
      scope: 'superman',
      uid: null,
      pgMajor: '15',
      targetTimeline: 2,
    });
    expect(report.timelines).toEqual([
      expect.objectContaining({
        id: 1,
        parent: null,
        segments: 16,
        firstSegment: '000000010000000000000001',
        lastSegment: '000000010000000000000010',
      }),
      expect.objectContaining({
        id: 2,
        parent: 1,
        switchLsn: '0/F0001A0',
        segments: 15,
        firstSegment: '00000002000000000000000F',
        lastSegment: '00000002000000000000001E',
      }),
    ]);
    expect(report.backups.map((b) => [b.name, b.status, b.startLsn, b.finishLsn])).toEqual([
      ['base_000000010000000000000003', 'restorable', '0/3000028', '0/4000100'],
      ['base_000000020000000000000015', 'restorable', '0/15000028', '0/16000100'],
    ]);
    // Segment 0x1A (26) is missing: every chain ends at 0x19, whose end is 26 × 16 MiB.
    expect(report.latestRecoverable).toEqual({
      backup: 'base_000000020000000000000015',
      timeline: 2,
      segment: '000000020000000000000019',
      lsn: '0/1A000000',
      archivedAt: new Date(storedAt(25)).toISOString(),
      lastCommitTime: null,
      lastCommitLsn: null,
    });
    expect(report.earliestRecoverable).toMatchObject({
      backup: 'base_000000010000000000000003',
      timeline: 1,
      lsn: '0/4000100',
    });
    expect(report.recoverableIntervals).toEqual([
      expect.objectContaining({
        timeline: 2,
        fromLsn: '0/4000100',
        toLsn: '0/1A000000',
        backups: ['base_000000010000000000000003', 'base_000000020000000000000015'],
      }),
    ]);
    expect(report.gaps).toEqual([
      expect.objectContaining({
        timeline: 2,
        firstSegment: '00000002000000000000001A',
        lastSegment: '00000002000000000000001A',
        count: 1,
        status: 'lost',
        severity: 'critical',
      }),
    ]);
    expect(report.headSegment).toBe('00000002000000000000001E');
    expect(report.unreferencedSegments).toBe(2);
    expect(report.divergedSegments).toBe(2);
    expect(report.archiveAgeSeconds).toBe(600);
    expect(report.recoveryPointLagSeconds).toBe((now - storedAt(25)) / 1000);
    expect(report.problems.map((p) => [p.kind, p.severity])).toEqual([['wal-gap', 'critical']]);
    expect(report.status).toBe('critical');
  });

  it('keeps a fresh hole pending and the cluster ok while WAL-G uploads in parallel', () => {
    const report = analyzeCluster(stateOf(generateArchive(failover)), { now: storedAt(27) + 2 * MINUTE });
    expect(report.gaps[0]).toMatchObject({ status: 'pending' });
    expect(report.status).toBe('ok');
  });

  it('stops alerting on an acknowledged gap but keeps it listed', () => {
    const state = stateOf(generateArchive(failover));
    const id = '00000002000000000000001A-00000002000000000000001A';
    const report = analyzeCluster(state, {
      now: storedAt(30) + 10 * MINUTE,
      acknowledgedGaps: new Set([id]),
    });
    expect(report.gaps).toEqual([expect.objectContaining({ id, status: 'acknowledged' })]);
    expect(report.status).toBe('ok');
  });

  it('rates a hole before the newest restorable backup as a warning', () => {
    const spec = { ...failover, holes: [5] };
    const report = analyzeCluster(stateOf(generateArchive(spec)), { now: storedAt(30) + MINUTE });
    expect(report.gaps).toEqual([
      expect.objectContaining({
        firstSegment: '000000010000000000000006',
        severity: 'warning',
        status: 'lost',
      }),
    ]);
    expect(report.recoverableIntervals.map((i) => [i.fromLsn, i.toLsn])).toEqual([
      ['0/4000100', '0/6000000'],
      ['0/16000100', '0/1F000000'],
    ]);
    expect(report.earliestRecoverable?.lsn).toBe('0/4000100');
    expect(report.latestRecoverable?.lsn).toBe('0/1F000000');
    expect(report.status).toBe('warning');
  });

  it('reports a timeline without history as critical and recovers only to its parent', () => {
    const objects = generateArchive({ ...failover, holes: [] }).filter(
      (o) => !o.key.endsWith('.history.lz4'),
    );
    const report = analyzeCluster(stateOf(objects), { now: storedAt(30) + MINUTE });
    expect(report.targetTimeline).toBe(1);
    // Timeline 2 exists (its segments), so the .partial is not an orphan: the history file is what is missing.
    expect(report.problems.map((p) => [p.kind, p.subject])).toEqual([['missing-history', '00000002']]);
    // Timeline 1 holds segments 1…16 (its diverged tail is now its own head).
    expect(report.latestRecoverable).toMatchObject({
      timeline: 1,
      segment: '000000010000000000000010',
      backup: 'base_000000010000000000000003',
    });
    expect(report.backups.find((b) => b.timeline === 2)?.status).toBe('restorable');
    expect(report.status).toBe('critical');
  });

  it('marks a backup whose WAL is missing and a failed and a corrupt backup', () => {
    const spec: ArchiveSpec = {
      clusterId: 'c',
      segmentSize: 16 * MIB,
      segments: 20,
      switches: [],
      backups: [2, 8, 12, 15],
      holes: [9],
      failed: [2],
      corrupt: [3],
    };
    const report = analyzeCluster(stateOf(generateArchive(spec)), { now: storedAt(20) + 27 * 3_600_000 });
    expect(Object.fromEntries(report.backups.map((b) => [b.name, b.status]))).toEqual({
      base_000000010000000000000003: 'restorable',
      base_000000010000000000000009: 'missing-wal',
      base_00000001000000000000000D: 'failed',
      base_000000010000000000000010: 'invalid',
    });
    expect(report.backups.find((b) => b.status === 'invalid')?.reason).toContain('malformed JSON');
    expect(report.latestRecoverable).toMatchObject({
      segment: '000000010000000000000009',
      backup: 'base_000000010000000000000003',
    });
    expect(report.problems.map((p) => p.kind).sort()).toEqual(
      [
        'archive-stale',
        'backup-failed',
        'backup-missing-wal',
        'backup-stale',
        'sentinel-invalid',
        'wal-gap',
      ].sort(),
    );
  });

  it('keeps a young backup without sentinel in progress and not alerting', () => {
    const spec: ArchiveSpec = {
      clusterId: 'c',
      segmentSize: 16 * MIB,
      segments: 10,
      switches: [],
      backups: [1, 7],
      failed: [1],
    };
    const report = analyzeCluster(stateOf(generateArchive(spec)), { now: storedAt(10) + MINUTE });
    expect(report.backups.map((b) => b.status)).toEqual(['restorable', 'in-progress']);
    expect(report.status).toBe('ok');
  });

  it('restores a delta only while its parent exists', () => {
    const spec: ArchiveSpec = {
      clusterId: 'c',
      segmentSize: 16 * MIB,
      segments: 12,
      switches: [],
      backups: [1, 6],
      deltas: [1],
    };
    const objects = generateArchive(spec);
    const now = storedAt(12) + MINUTE;
    const whole = analyzeCluster(stateOf(objects), { now });
    expect(whole.backups.map((b) => [b.name, b.status, b.delta?.parent])).toEqual([
      ['base_000000010000000000000002', 'restorable', undefined],
      [
        'base_000000010000000000000007_D_000000010000000000000002',
        'restorable',
        'base_000000010000000000000002',
      ],
    ]);
    const orphan = analyzeCluster(
      stateOf(objects.filter((o) => !o.key.includes('base_000000010000000000000002_backup_stop'))),
      { now },
    );
    expect(orphan.backups.find((b) => b.delta)?.status).toBe('broken-chain');
  });

  it('computes WAL-E backups from the name offset and the stop segment', () => {
    const objects: GeneratedObject[] = [
      ...generateArchive({
        clusterId: 'spilo/legacy/wal',
        segmentSize: 16 * MIB,
        segments: 6,
        switches: [],
        backups: [],
      }),
      {
        key: 'spilo/legacy/wal/basebackups_005/base_000000010000000000000002_00000040_backup_stop_sentinel.json',
        at: storedAt(4),
        content:
          '{"wal_segment_backup_stop": "000000010000000000000003", "wal_segment_offset_backup_stop": "00000296", "expanded_size_bytes": 9}',
      },
    ];
    const report = analyzeCluster(stateOf(objects), { now: storedAt(6) + MINUTE });
    expect(report.backups[0]).toMatchObject({
      status: 'restorable',
      startLsn: '0/2000028',
      finishLsn: '0/3000128',
      uncompressedSize: 9,
    });
    expect(report.latestRecoverable?.lsn).toBe('0/7000000');
  });

  it('reports a .partial with no newer timeline as an orphan', () => {
    const objects: GeneratedObject[] = [
      ...generateArchive({ clusterId: 'c', segmentSize: 16 * MIB, segments: 6, switches: [], backups: [1] }),
      { key: 'c/wal_005/000000010000000000000007.partial.lz4', at: storedAt(7) },
    ];
    const report = analyzeCluster(stateOf(objects), { now: storedAt(7) });
    expect(report.problems.map((p) => [p.kind, p.severity])).toEqual([['orphan-partial', 'warning']]);
  });

  it('flags names impossible for the segment size', () => {
    const objects: GeneratedObject[] = [{ key: 'c/wal_005/000000010000000000000100.lz4', at: START }];
    const report = analyzeCluster(stateOf(objects), { now: START });
    expect(report.problems.map((p) => p.kind)).toContain('segment-size-mismatch');
  });

  it('reports a deleted needed segment as wal-deleted', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    const objects = generateArchive({
      clusterId: 'c',
      segmentSize: 16 * MIB,
      segments: 10,
      switches: [],
      backups: [1],
    });
    foldAll(archive, objects);
    archive.apply({
      key: 'c/wal_005/000000010000000000000006.lz4',
      type: 'removed',
      at: storedAt(10),
      sequencer: 'FFFF',
    });
    const report = analyzeCluster(archive.states.get('c') as ClusterState, { now: storedAt(10) + MINUTE });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'wal-deleted',
          severity: 'critical',
          subject: '000000010000000000000006',
        }),
      ]),
    );
    expect(report.latestRecoverable?.segment).toBe('000000010000000000000005');
  });

  it('does not report retention deleting WAL older than every backup', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    const objects = generateArchive({
      clusterId: 'c',
      segmentSize: 16 * MIB,
      segments: 10,
      switches: [],
      backups: [4],
    });
    foldAll(archive, objects);
    archive.apply({
      key: 'c/wal_005/000000010000000000000001.lz4',
      type: 'removed',
      at: storedAt(10),
      sequencer: 'FFFF',
    });
    const report = analyzeCluster(archive.states.get('c') as ClusterState, { now: storedAt(10) + MINUTE });
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('ok');
  });

  it('reports a segment stored twice with different content', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    const key = 'c/wal_005/000000010000000000000001.lz4';
    archive.apply({ key, type: 'created', at: START, size: 10, etag: 'a', sequencer: '01' });
    archive.apply({ key, type: 'created', at: START + 1, size: 11, etag: 'b', sequencer: '02' });
    const report = analyzeCluster(archive.states.get('c') as ClusterState, { now: START + 2 });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'wal-overwritten',
          severity: 'critical',
          subject: 'wal_005/000000010000000000000001.lz4',
        }),
      ]),
    );
  });

  it('treats a segment recovery cannot read as missing and says why', () => {
    const state = stateOf(
      generateArchive({ clusterId: 'c', segmentSize: 16 * MIB, segments: 10, switches: [], backups: [1] }),
    );
    const healthy = analyzeCluster(state, { now: storedAt(10) + MINUTE });
    expect(healthy.latestRecoverable?.segment).toBe('00000001000000000000000A');
    const runsBefore = structuredClone(state.segments);

    const corrupt: ClusterState = {
      ...state,
      defects: {
        '1:6': {
          kind: 'corrupt',
          message: 'incorrect resource manager data checksum in record at 0/6001234',
          stopLsn: '0/6001200',
          key: 'wal_005/000000010000000000000006.lz4',
          etag: 'e1',
        },
      },
    };
    const report = analyzeCluster(corrupt, { now: storedAt(10) + MINUTE });
    expect(report.latestRecoverable?.segment).toBe('000000010000000000000005');
    expect(report.status).toBe('critical');
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: 'wal-corrupt',
        severity: 'critical',
        subject: '000000010000000000000006',
      }),
    ]);
    expect(report.problems[0]?.message).toContain('replay stops at 0/6001200');
    // The gap it leaves is listed, but as the corrupt segment's problem, not a missing one.
    expect(report.gaps).toEqual([
      expect.objectContaining({ firstSegment: '000000010000000000000006', status: 'lost', count: 1 }),
    ]);
    // The timeline still counts what is archived.
    expect(report.timelines[0]?.segments).toBe(healthy.timelines[0]?.segments);
    // The core state is not changed by the analysis.
    expect(state.segments).toEqual(runsBefore);
  });

  it('counts a corrupt segment next to a missing one in one gap, and says so', () => {
    const state = stateOf(
      generateArchive({
        clusterId: 'c',
        segmentSize: 16 * MIB,
        segments: 10,
        switches: [],
        backups: [1],
        holes: [6], // generator indexes from 0: segment 7
      }),
    );
    const report = analyzeCluster(
      {
        ...state,
        defects: { '1:6': { kind: 'zeroed', message: 'zeroed', stopLsn: '0/6000100', key: 'k', etag: null } },
      },
      { now: storedAt(10) + 10 * MINUTE },
    );
    expect(report.gaps).toEqual([
      expect.objectContaining({ count: 2, firstSegment: '000000010000000000000006' }),
    ]);
    const gap = report.problems.find((p) => p.kind === 'wal-gap');
    expect(gap?.message).toContain('2 WAL segment(s)');
    expect(gap?.message).toContain('(1 of them archived but unreadable)');
    expect(report.problems.map((p) => p.kind).sort()).toEqual(['wal-corrupt', 'wal-gap']);
  });

  it('rates a corrupt segment before the newest restorable backup as a warning', () => {
    const state = stateOf(
      generateArchive({ clusterId: 'c', segmentSize: 16 * MIB, segments: 10, switches: [], backups: [1, 8] }),
    );
    const report = analyzeCluster(
      {
        ...state,
        defects: {
          '1:5': { kind: 'zeroed', message: 'zeroed', stopLsn: '0/5000000', key: 'k', etag: null },
        },
      },
      { now: storedAt(10) + MINUTE },
    );
    expect(report.latestRecoverable?.segment).toBe('00000001000000000000000A');
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'wal-corrupt', severity: 'warning' })]);
  });

  it('uses commit times read from segment content for the latest recoverable point', () => {
    const state = stateOf(generateArchive({ ...failover, holes: [] }));
    const commit = { lastCommitTime: '2026-11-01T00:29:30.123456Z', lastCommitLsn: '0/1EFFFF00' };
    const report = analyzeCluster(state, {
      now: Date.parse('2026-11-01T00:31:30.123456Z'),
      segmentCommit: (timeline, segno) => (timeline === 2 && segno === 30 ? commit : undefined),
    });
    expect(report.latestRecoverable).toMatchObject(commit);
    expect(report.recoveryPointLagSeconds).toBeCloseTo(120, 2);
  });
});

describe('analyzeCluster with a wrong segment size', () => {
  it('says so, and names the size the sentinels fit', () => {
    // Written with 1 MiB segments, analysed as 16 MiB: the backup name and its start LSN disagree.
    const objects = generateArchive({
      clusterId: 'c',
      segmentSize: MIB,
      segments: 30,
      switches: [],
      backups: [3],
    });
    const wrong = analyzeCluster(stateOf(objects, 16 * MIB), { now: storedAt(30) });
    expect(wrong.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'segment-size-mismatch',
          severity: 'critical',
          message: expect.stringContaining('says 1 MiB segments'),
        }),
      ]),
    );
    const right = analyzeCluster(stateOf(objects, MIB), { now: storedAt(30) });
    expect(right.problems.map((p) => p.kind)).not.toContain('segment-size-mismatch');
  });
});
