/**
 * Objects whose size cannot be a segment of the cluster (empty, a 50 MB file named as a 16 MiB segment, an
 * `.lz4` shorter than any lz4 stream) are `wrong-size` defects without being read: they do not extend the
 * recovery chain. The listing builder and the event path (`MemoryArchive`) agree.
 */
import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { walFileName } from '../../../shared/core/lsn.js';
import { MemoryArchive } from '../../../shared/core/memory-archive.js';
import { impossibleSegmentSize, maxCompressedSegmentBytes } from '../../../shared/core/object-size.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import { contentLookup, type GeneratedObject, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;
const SIZE = 16 * MIB;
const CLUSTER = 'spilo/sizes/wal/15';
const objects = generateArchive({
  clusterId: CLUSTER,
  segmentSize: SIZE,
  segments: 10,
  switches: [],
  backups: [1],
});
const NOW = Math.max(...objects.map((object) => object.at)) + 60_000;
const segmentKey = (segno: number, extension: string) =>
  `${CLUSTER}/wal_005/${walFileName(1, segno, SIZE)}${extension}`;

/** The archive with segment 5 empty and uncompressed, 6 a 50 MB file, 7 an `.lz4` of 5 bytes. */
function damaged(): GeneratedObject[] {
  return objects.map((object) => {
    if (object.key === segmentKey(5, '.lz4')) return { ...object, key: segmentKey(5, ''), size: 0 };
    if (object.key === segmentKey(6, '.lz4')) return { ...object, key: segmentKey(6, ''), size: 50_000_000 };
    if (object.key === segmentKey(7, '.lz4')) return { ...object, size: 5 };
    return object;
  });
}

function listed(list: readonly GeneratedObject[]): ClusterState {
  return buildClusterStates(list, contentLookup(list), () => SIZE).get(CLUSTER) as ClusterState;
}

function folded(list: readonly GeneratedObject[]): MemoryArchive {
  const archive = new MemoryArchive(() => SIZE);
  for (const [i, object] of list.entries())
    archive.apply(
      { ...object, type: 'created', sequencer: String(i).padStart(4, '0') },
      object.content ? { text: object.content } : undefined,
    );
  return archive;
}

describe('impossibleSegmentSize', () => {
  it.each([
    [0, 'none', 'the object is empty'],
    [SIZE + 1, 'none', `it has ${SIZE + 1} bytes, more than a ${SIZE}-byte segment`],
    [5, 'lz4', 'it has 5 bytes, fewer than any lz4 stream'],
    [
      maxCompressedSegmentBytes(SIZE) + 1,
      'zstd',
      `it has ${maxCompressedSegmentBytes(SIZE) + 1} bytes, more than zstd makes of a ${SIZE}-byte segment`,
    ],
  ] as const)('rules out %i bytes of %s', (size, compression, reason) => {
    expect(impossibleSegmentSize(size, compression, SIZE)).toBe(reason);
  });

  it.each([
    [SIZE, 'none'],
    [1, 'none'],
    [11, 'lz4'],
    [SIZE + 65_856, 'lz4'],
    [null, 'none'],
  ] as const)('accepts %s bytes of %s', (size, compression) => {
    expect(impossibleSegmentSize(size, compression, SIZE)).toBeUndefined();
  });
});

describe('segments of impossible sizes', () => {
  it('are wrong-size defects that end the recovery chain, from a listing and from events alike', () => {
    const fromListing = listed(damaged());
    const archive = folded(damaged());
    const fromEvents = archive.states.get(CLUSTER) as ClusterState;
    expect(fromEvents.defects).toEqual(fromListing.defects);
    expect(Object.entries(fromListing.defects ?? {}).map(([id, defect]) => [id, defect.kind])).toEqual([
      ['1:5', 'wrong-size'],
      ['1:6', 'wrong-size'],
      ['1:7', 'wrong-size'],
    ]);
    for (const state of [fromListing, fromEvents]) {
      const report = analyzeCluster(state, { now: NOW });
      expect(report.latestRecoverable?.segment).toBe(walFileName(1, 4, SIZE));
      const corrupt = report.problems.filter((problem) => problem.kind === 'wal-corrupt');
      expect(corrupt.map((problem) => problem.subject)).toEqual(
        [5, 6, 7].map((n) => walFileName(1, n, SIZE)),
      );
      expect(corrupt[0]?.message).toContain('wrong-size: the object is empty');
    }
    expect(analyzeCluster(listed(objects), { now: NOW }).latestRecoverable?.segment).toBe(
      walFileName(1, 10, SIZE),
    );
  });

  it('stop being defects when a sound copy is stored beside or over them', () => {
    const archive = folded(damaged());
    // A sound .lz4 copy of segment 5 next to the empty file; segment 7 stored again with a real size.
    archive.apply({
      key: segmentKey(5, '.lz4'),
      type: 'created',
      at: NOW,
      size: 4000,
      etag: 'a',
      sequencer: 'x1',
    });
    archive.apply({
      key: segmentKey(7, '.lz4'),
      type: 'created',
      at: NOW,
      size: 4000,
      etag: 'b',
      sequencer: 'x2',
    });
    expect(Object.keys(archive.states.get(CLUSTER)?.defects ?? {})).toEqual(['1:6']);
    archive.apply({ key: segmentKey(6, ''), type: 'removed', at: NOW + 1, sequencer: 'x3' });
    expect(archive.states.get(CLUSTER)?.defects).toBeUndefined();

    const listedWithCopy = listed([...damaged(), { key: segmentKey(5, '.lz4'), at: NOW, size: 4000 }]);
    expect(Object.keys(listedWithCopy.defects ?? {})).toEqual(['1:6', '1:7']);
  });
});

describe('segments of impossible sizes under a detected segment size', () => {
  const SMALL = 8 * MIB;
  const small = generateArchive({
    clusterId: CLUSTER,
    segmentSize: SMALL,
    segments: 10,
    switches: [],
    backups: [1],
  }).map((object) =>
    // Segment 6 uncompressed at 12 MiB: a segment while 16 MiB is assumed, too large for 8 MiB ones.
    object.key === `${CLUSTER}/wal_005/${walFileName(1, 6, SMALL)}.lz4`
      ? { ...object, key: object.key.slice(0, -'.lz4'.length), size: 12 * MIB }
      : object,
  );
  const walFirst = [
    ...small.filter((object) => object.key.includes('/wal_005/')),
    ...small.filter((object) => !object.key.includes('/wal_005/')),
  ];

  function foldUpTo(count: number): ClusterState {
    const archive = new MemoryArchive(() => 'auto');
    for (const [i, object] of walFirst.slice(0, count).entries())
      archive.apply(
        { ...object, type: 'created', sequencer: String(i).padStart(4, '0') },
        object.content ? { text: object.content } : undefined,
      );
    return archive.states.get(CLUSTER) as ClusterState;
  }
  const listedAuto = (list: readonly GeneratedObject[]) =>
    buildClusterStates(list, contentLookup(list), () => 'auto').get(CLUSTER) as ClusterState;

  it('are judged again when the size the archive tells is smaller than the one assumed', () => {
    const walOnly = walFirst.filter((object) => object.key.includes('/wal_005/'));
    const assumed = foldUpTo(walOnly.length);
    expect(assumed).toMatchObject({ segmentSize: 16 * MIB, segmentSizeSource: 'assumed' });
    expect(assumed.defects).toEqual(listedAuto(walOnly).defects);

    const detected = foldUpTo(walFirst.length);
    expect(detected).toMatchObject({ segmentSize: SMALL, segmentSizeSource: 'sentinel' });
    expect(detected.defects).toEqual(listedAuto(walFirst).defects);
    expect(Object.entries(detected.defects ?? {}).map(([id, defect]) => [id, defect.kind])).toEqual([
      ['1:6', 'wrong-size'],
    ]);
    expect(detected.defects?.['1:6']?.message).toContain(`more than a ${SMALL}-byte segment`);
  });
});
