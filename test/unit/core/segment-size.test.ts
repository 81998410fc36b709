import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { MemoryArchive } from '../../../shared/core/memory-archive.js';
import {
  detectSegmentSize,
  sizesFittingBackupLabel,
  sizesFittingBackupStart,
} from '../../../shared/core/segment-size.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { contentLookup, type GeneratedObject, generateArchive } from '../../support/archive-generator.js';
import { firstEvidenceAt, presentAfter, shuffledArchive } from '../../support/size-detection-archive.js';

const MIB = 1024 * 1024;
const NOW = Date.parse('2026-12-01T00:00:00Z');

function listedState(
  objects: readonly GeneratedObject[],
  setting: number | 'auto',
): ClusterState | undefined {
  return [...buildClusterStates(objects, contentLookup(objects), () => setting).values()][0];
}

/** The parts of a state a listing can know (removals and overwrites are only seen by events). */
function listable(state: ClusterState | undefined): unknown {
  if (!state) return undefined;
  const { deleted: _deleted, overwritten: _overwritten, ...rest } = state;
  return rest;
}

describe('sizesFittingBackupStart', () => {
  it.each([
    ['000000010000000000000002', 0x2000028n, [16 * MIB]],
    ['000000010000000000000002', 0x8000028n, [64 * MIB]],
    // Taken on a replica: the name may be the segment of the byte before the start LSN.
    ['000000010000000000000001', 0x8000000n, [64 * MIB, 128 * MIB]],
    ['000000010000000000000003', 0x8000028n, []],
  ])('fits %s starting at %s to %j', (name, lsn, sizes) => {
    expect(sizesFittingBackupStart(name, lsn)).toEqual(sizes);
  });
});

describe('sizesFittingBackupLabel', () => {
  it('reads the size from the segment and offset the name gives and the start LSN', () => {
    expect(sizesFittingBackupLabel('000000010000000000000008', 0x28, 0x800028n)).toEqual([MIB]);
    expect(sizesFittingBackupLabel('000000010000000000000002', 0x28, 0x8000028n)).toEqual([64 * MIB]);
  });

  it('fits every size with more room than the offset when the name is the first of an xlogid', () => {
    expect(sizesFittingBackupLabel('000000010000000100000000', 0x28, 0x1_0000_0028n)).toHaveLength(11);
  });
});

describe('detectSegmentSize', () => {
  const archive = (segmentSize: number, backupLabels: boolean) =>
    generateArchive({
      clusterId: 'c',
      segmentSize,
      segments: 12,
      switches: [],
      backups: [3],
      backupLabels,
    });

  it('takes the size of the backup history file first, then of the sentinels', () => {
    const labelled = listedState(archive(64 * MIB, true), 'auto') as ClusterState;
    expect(detectSegmentSize(labelled, 'auto')).toMatchObject({
      size: 64 * MIB,
      source: 'backup-label',
      conflicts: [],
    });
    const sentinelOnly = listedState(archive(64 * MIB, false), 'auto') as ClusterState;
    expect(detectSegmentSize(sentinelOnly, 'auto')).toMatchObject({ size: 64 * MIB, source: 'sentinel' });
  });

  it('assumes 16 MiB while only segments are archived', () => {
    const walOnly = archive(64 * MIB, false).filter((object) => object.key.includes('/wal_005/'));
    const state = listedState(walOnly, 'auto') as ClusterState;
    expect(state).toMatchObject({ segmentSize: 16 * MIB, segmentSizeSource: 'assumed' });
    const report = analyzeCluster(state, { now: NOW });
    expect(report.segmentSizeSource).toBe('assumed');
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: 'segment-size-assumed', severity: 'info' }),
    );
  });

  it('takes the page header of a segment read when nothing else tells', () => {
    const walOnly = listedState(
      archive(64 * MIB, false).filter((object) => object.key.includes('/wal_005/')),
      'auto',
    ) as ClusterState;
    const header = { walFile: '000000010000000000000004', size: 64 * MIB };
    expect(detectSegmentSize({ ...walOnly, headerSegmentSize: header }, 'auto')).toMatchObject({
      size: 64 * MIB,
      source: 'page-header',
    });
  });

  /** The WAL of a 64 MiB archive stored uncompressed: objects of exactly the segment size. */
  const plainWal = (sizeOf: (index: number) => number = () => 64 * MIB) =>
    archive(64 * MIB, false)
      .filter((object) => /\/wal_005\/[0-9A-F]{24}\.lz4$/.test(object.key))
      .map((object, index) => ({ ...object, key: object.key.slice(0, -'.lz4'.length), size: sizeOf(index) }));

  it('takes the size of uncompressed segment objects when they all have one valid segment size', () => {
    const state = listedState(plainWal(), 'auto') as ClusterState;
    expect(state).toMatchObject({ segmentSize: 64 * MIB, segmentSizeSource: 'object-size' });
    const report = analyzeCluster(state, { now: NOW });
    expect(report.segmentSizeSource).toBe('object-size');
    expect(report.problems.map((problem) => problem.kind)).not.toContain('segment-size-assumed');
    expect(report.problems.map((problem) => problem.kind)).not.toContain('segment-defect');
    expect(state.defects ?? {}).toEqual({});
    expect({ ...analyzeCluster(listedState(plainWal(), 64 * MIB) as ClusterState, { now: NOW }) }).toEqual({
      ...report,
      segmentSizeSource: 'configured',
    });
  });

  it('decides nothing from uncompressed objects of several sizes, which stay defects', () => {
    const state = listedState(
      plainWal((index) => (index === 3 ? 32 * MIB : 64 * MIB)),
      'auto',
    ) as ClusterState;
    expect(state).toMatchObject({ segmentSize: 16 * MIB, segmentSizeSource: 'assumed' });
    expect(detectSegmentSize(state, 'auto').evidence).toBeNull();
    expect(Object.values(state.defects ?? {}).map((defect) => defect.kind)).toContain('wrong-size');
  });

  it('ranks the object sizes after every other source, and reports them contradicting an override', () => {
    const objects = [
      ...plainWal(),
      ...archive(64 * MIB, true).filter((object) => !/\/wal_005\/[0-9A-F]{24}\.lz4$/.test(object.key)),
    ];
    expect(listedState(objects, 'auto')).toMatchObject({
      segmentSize: 64 * MIB,
      segmentSizeSource: 'backup-label',
    });
    const configured = listedState(plainWal(), 16 * MIB) as ClusterState;
    expect(detectSegmentSize(configured, 16 * MIB).conflicts).toEqual([
      { source: 'object-size', subject: '000000010000000000000001', sizes: [64 * MIB] },
    ]);
    const mismatch = analyzeCluster(configured, { now: NOW }).problems.find(
      (problem) => problem.kind === 'segment-size-mismatch',
    );
    expect(mismatch).toMatchObject({ severity: 'critical' });
    expect(mismatch?.message).toContain('the size of uncompressed segment objects');
  });

  it('keeps a configured size and reports the archive contradicting it, naming both', () => {
    const state = listedState(archive(64 * MIB, true), 16 * MIB) as ClusterState;
    expect(state).toMatchObject({ segmentSize: 16 * MIB, segmentSizeSource: 'configured' });
    const report = analyzeCluster(state, { now: NOW });
    expect(report.status).toBe('critical');
    const problem = report.problems.find((entry) => entry.kind === 'segment-size-mismatch');
    expect(problem?.message).toContain(
      'backup history file wal_005/000000010000000000000004.00000028.backup.lz4 says 64 MiB segments',
    );
    expect(problem?.message).toContain('(and 1 more), but the configured size is 16 MiB');
  });

  it('reports sources that disagree with each other as a critical problem naming both', () => {
    const labelled = listedState(archive(64 * MIB, true), 'auto') as ClusterState;
    const header = { walFile: '000000010000000000000009', size: 16 * MIB };
    const report = analyzeCluster({ ...labelled, headerSegmentSize: header }, { now: NOW });
    expect(report.problems).toContainEqual({
      kind: 'segment-size-mismatch',
      severity: 'critical',
      subject: '000000010000000000000009',
      message: expect.stringMatching(
        /^the page header of segment 000000010000000000000009 says 16 MiB segments, but backup history file .* says 64 MiB segments/,
      ),
    });
  });
});

describe('MemoryArchive with the segment size detected', () => {
  it('equals a full listing with the right size before and after the first size evidence, in any order', () => {
    fc.assert(
      fc.property(shuffledArchive, (archive) => {
        const memory = new MemoryArchive(() => 'auto');
        const evidenceAt = firstEvidenceAt(archive);
        const checkpoints = new Set([evidenceAt, evidenceAt + 1, archive.events.length]);
        archive.events.forEach(({ event, content }, index) => {
          if (checkpoints.has(index)) check(index);
          memory.apply(event, content === undefined ? undefined : { text: content });
        });
        check(archive.events.length);

        function check(count: number): void {
          const present = presentAfter(archive, count);
          const expected = listedState(present, 'auto');
          const folded = memory.states.get(archive.spec.clusterId);
          if (!expected) {
            expect(folded?.segments ?? {}).toEqual({});
            return;
          }
          expect(listable(folded)).toEqual(listable(expected));
          // The listing, with the size the archive was written with, once anything tells it.
          if (expected.segmentSizeSource !== 'assumed') {
            const right = listedState(present, 64 * MIB) as ClusterState;
            expect({ ...(listable(folded) as object), segmentSizeSource: 'configured' }).toEqual(
              listable(right),
            );
            expect(analyzeCluster(folded as ClusterState, { now: NOW }).segmentSize).toBe(64 * MIB);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
