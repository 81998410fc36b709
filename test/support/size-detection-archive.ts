/**
 * Archives of a 64 MiB cluster delivered as shuffled events, for the property tests of segment size
 * detection: segments (some on names only 64 MiB or larger segments have), timeline switches, backups
 * with sentinels and backup history files, removals and duplicates, and segment objects whose sizes rule
 * them out under one size or every size.
 */
import fc from 'fast-check';
import type { ObjectEvent } from '../../shared/core/facts.js';
import { type ArchiveSpec, type GeneratedObject, generateArchive } from './archive-generator.js';

const MIB = 1024 * 1024;

/**
 * Segment objects of sizes the size check judges (`object-size.ts`): an uncompressed 64 MiB segment (sound,
 * but impossible while 16 MiB is assumed), one beside its `.lz4` copy, an empty file, a 5-byte `.lz4`, and an
 * uncompressed 100 MiB file (impossible under both sizes, with a message that depends on the size).
 */
const ODD_SIZES = ['uncompressed', 'beside', 'empty', 'short-lz4', 'too-large'] as const;

/** A 64 MiB archive and the order its events arrive in. */
export interface ShuffledArchive {
  readonly spec: ArchiveSpec;
  readonly objects: readonly GeneratedObject[];
  /** Every event, in delivery order, with the index of its object and the object's body. */
  readonly events: ReadonlyArray<{ event: ObjectEvent; object: number; content?: string | undefined }>;
}

/** 64 MiB archives crossing xlogid boundaries (64 segments each), with any delivery order. */
export const shuffledArchive: fc.Arbitrary<ShuffledArchive> = fc
  .record({
    segments: fc.integer({ min: 1, max: 150 }),
    firstSegno: fc.constantFrom(1, 60, 126),
    switches: fc.uniqueArray(fc.integer({ min: 1, max: 149 }), { maxLength: 2 }),
    midSegmentSwitch: fc.boolean(),
    backups: fc.uniqueArray(fc.integer({ min: 0, max: 140 }), { maxLength: 3 }),
    backupLabels: fc.boolean(),
    holes: fc.uniqueArray(fc.integer({ min: 0, max: 149 }), { maxLength: 3 }),
    oddSizes: fc.array(fc.record({ at: fc.nat(), kind: fc.nat({ max: ODD_SIZES.length - 1 }) }), {
      maxLength: 4,
    }),
    removeEvery: fc.integer({ min: 0, max: 9 }),
    duplicateEvery: fc.integer({ min: 2, max: 20 }),
    order: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 40 }),
  })
  .map((drawn) => {
    const spec: ArchiveSpec = {
      clusterId: 'spilo/big/wal/15',
      segmentSize: 64 * MIB,
      segments: drawn.segments,
      firstSegno: drawn.firstSegno,
      switches: drawn.switches.filter((n) => n < drawn.segments).sort((a, b) => a - b),
      midSegmentSwitch: drawn.midSegmentSwitch,
      divergedTail: 1,
      backups: drawn.backups.filter((n) => n + 2 < drawn.segments).sort((a, b) => a - b),
      backupLabels: drawn.backupLabels,
      holes: drawn.holes,
    };
    const objects = withOddSizes(generateArchive(spec), drawn.oddSizes);
    const events: Array<{ event: ObjectEvent; object: number; content?: string | undefined }> = [];
    objects.forEach((object, index) => {
      const created: ObjectEvent = {
        key: object.key,
        type: 'created',
        at: object.at,
        size: object.size ?? null,
        etag: object.etag ?? null,
        sequencer: `${(index * 2).toString(16)}0`,
      };
      events.push({ event: created, object: index, content: object.content });
      if (index % drawn.duplicateEvery === 0)
        events.push({ event: created, object: index, content: object.content });
      if (drawn.removeEvery > 0 && index % drawn.removeEvery === 0) {
        const removed: ObjectEvent = {
          key: object.key,
          type: 'removed',
          at: object.at + 1,
          sequencer: `${(index * 2 + 1).toString(16)}0`,
        };
        events.push({ event: removed, object: index });
      }
    });
    const ranked = events.map((item, i) => ({
      item,
      rank: (drawn.order[i % drawn.order.length] as number) ^ Math.imul(i, 2654435761),
    }));
    ranked.sort((a, b) => a.rank - b.rank);
    return { spec, objects, events: ranked.map((entry) => entry.item) };
  });

function withOddSizes(
  objects: GeneratedObject[],
  odd: ReadonlyArray<{ at: number; kind: number }>,
): GeneratedObject[] {
  const segments = objects.flatMap((object, index) =>
    /\/wal_005\/[0-9A-F]{24}\.lz4$/.test(object.key) ? [index] : [],
  );
  if (segments.length === 0) return objects;
  const result = [...objects];
  for (const { at, kind } of odd) {
    const index = segments[at % segments.length] as number;
    const object = result[index] as GeneratedObject;
    // A segment changed once already keeps that change.
    if (!object.key.endsWith('.lz4') || object.size === 5) continue;
    const plain = object.key.slice(0, -'.lz4'.length);
    switch (ODD_SIZES[kind]) {
      case 'uncompressed':
        result[index] = { ...object, key: plain, size: 64 * MIB };
        break;
      case 'beside':
        if (!result.some((other) => other.key === plain))
          result.push({ ...object, key: plain, size: 64 * MIB });
        break;
      case 'empty':
        result[index] = { ...object, key: plain, size: 0 };
        break;
      case 'short-lz4':
        result[index] = { ...object, size: 5 };
        break;
      case 'too-large':
        result[index] = { ...object, key: plain, size: 100 * MIB };
        break;
    }
  }
  // One object per key: a later change of the same segment replaces an earlier one.
  return [...new Map(result.map((object) => [object.key, object])).values()];
}

/**
 * The objects present after the first `count` events: created by one of them and removed by none (a
 * removal's sequencer is always after its key's store).
 */
export function presentAfter(archive: ShuffledArchive, count: number): GeneratedObject[] {
  const created = new Set<number>();
  const removed = new Set<number>();
  for (const { event, object } of archive.events.slice(0, count)) {
    if (event.type === 'created') created.add(object);
    else removed.add(object);
  }
  return archive.objects.filter((_, index) => created.has(index) && !removed.has(index));
}

/** Where the first object telling the segment size (a `.backup` file or a sentinel) arrives, if any. */
export function firstEvidenceAt(archive: ShuffledArchive): number {
  return archive.events.findIndex(
    ({ event }) =>
      event.type === 'created' &&
      (event.key.endsWith('.backup.lz4') || event.key.endsWith('_backup_stop_sentinel.json')),
  );
}
