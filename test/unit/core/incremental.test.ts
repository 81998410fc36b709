import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import type { ObjectEvent } from '../../../shared/core/facts.js';
import { MemoryArchive } from '../../../shared/core/memory-archive.js';
import { buildClusterStates, type ClusterState } from '../../../shared/core/state.js';
import {
  type ArchiveSpec,
  contentLookup,
  type GeneratedObject,
  generateArchive,
} from '../../support/archive-generator.js';

const MIB = 1024 * 1024;

/** Archives with timeline switches, diverged tails, partials, holes, deltas, failed and corrupt backups. */
const archiveSpec: fc.Arbitrary<ArchiveSpec> = fc
  .record({
    segments: fc.integer({ min: 1, max: 60 }),
    switchCount: fc.integer({ min: 0, max: 3 }),
    midSegmentSwitch: fc.boolean(),
    divergedTail: fc.integer({ min: 0, max: 3 }),
    backupCount: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer(),
    segmentSize: fc.constantFrom(MIB, 16 * MIB),
    firstSegno: fc.constantFrom(1, 250, 4090),
  })
  .map(
    ({
      segments,
      switchCount,
      midSegmentSwitch,
      divergedTail,
      backupCount,
      seed,
      segmentSize,
      firstSegno,
    }) => {
      const pick = (count: number, modulo: number, salt: number): number[] =>
        [
          ...new Set(
            Array.from({ length: count }, (_, i) =>
              Math.abs((seed * (i + 7) + salt * 31) % Math.max(1, modulo)),
            ),
          ),
        ].sort((a, b) => a - b);
      const switches = pick(switchCount, segments, 1).filter((n) => n > 0);
      return {
        clusterId: 'spilo/prop/wal/16',
        segmentSize,
        segments,
        firstSegno,
        switches,
        midSegmentSwitch,
        divergedTail,
        backups: pick(backupCount, segments, 2),
        deltas: pick(2, backupCount + 1, 3),
        failed: pick(1, backupCount * 2 + 1, 4),
        corrupt: pick(1, backupCount * 3 + 1, 5),
        holes: pick(seed % 4 === 0 ? 0 : 3, segments, 6),
      };
    },
  );

interface Delivery {
  readonly removeEvery: number;
  readonly duplicateEvery: number;
  readonly order: readonly number[];
}

/** A delivery plan: which objects get removed later, duplicated, and the shuffle order. */
const delivery: fc.Arbitrary<Delivery> = fc.record({
  removeEvery: fc.integer({ min: 0, max: 7 }),
  duplicateEvery: fc.integer({ min: 2, max: 20 }),
  order: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 50 }),
});

function eventsFor(
  objects: readonly GeneratedObject[],
  plan: Delivery,
): Array<{ event: ObjectEvent; content?: string | undefined }> {
  const events: Array<{ event: ObjectEvent; content?: string | undefined }> = [];
  objects.forEach((object, index) => {
    const created: ObjectEvent = {
      key: object.key,
      type: 'created',
      at: object.at,
      size: object.size ?? null,
      etag: object.etag ?? null,
      sequencer: `${(index * 2).toString(16)}0`,
    };
    events.push({ event: created, content: object.content });
    if (index % plan.duplicateEvery === 0) events.push({ event: created, content: object.content });
    if (plan.removeEvery > 0 && index % plan.removeEvery === 0) {
      events.push({
        event: {
          key: object.key,
          type: 'removed',
          at: object.at + 1,
          sequencer: `${(index * 2 + 1).toString(16)}0`,
        },
      });
    }
  });
  // Deterministic shuffle driven by the plan.
  const keyed = events.map((item, i) => ({
    item,
    rank: (plan.order[i % plan.order.length] as number) ^ (i * 2654435761),
  }));
  keyed.sort((a, b) => a.rank - b.rank);
  return keyed.map((k) => k.item);
}

function survivors(objects: readonly GeneratedObject[], plan: Delivery): GeneratedObject[] {
  return objects.filter((_, index) => !(plan.removeEvery > 0 && index % plan.removeEvery === 0));
}

/** The parts of a state a listing can know (deletions and overwrites are only seen by events). */
function listable(state: ClusterState | undefined): unknown {
  if (!state) return undefined;
  const { deleted: _deleted, overwritten: _overwritten, ...rest } = state;
  return rest;
}

describe('MemoryArchive (event folding)', () => {
  it('reaches the state of a full listing for any order, duplication and removal of events', () => {
    fc.assert(
      fc.property(archiveSpec, delivery, (spec, plan) => {
        const objects = generateArchive(spec);
        const archive = new MemoryArchive(() => spec.segmentSize);
        for (const { event, content } of eventsFor(objects, plan))
          archive.apply(event, content === undefined ? undefined : { text: content });

        const remaining = survivors(objects, plan);
        const listed = buildClusterStates(remaining, contentLookup(remaining), () => spec.segmentSize);
        const folded = archive.states.get(spec.clusterId);
        const expected = listed.get(spec.clusterId);
        if (!expected) {
          // Everything was removed: the folded state holds nothing but tombstones.
          expect(folded?.newest ?? null).toBeNull();
          expect(folded?.segments ?? {}).toEqual({});
          return;
        }
        expect(listable(folded)).toEqual(listable(expected));

        const now = Date.parse('2026-12-01T00:00:00Z');
        const fromEvents = analyzeCluster(folded as ClusterState, { now });
        const fromListing = analyzeCluster(expected, { now });
        const withoutEventOnly = (report: typeof fromEvents) => ({
          ...report,
          problems: report.problems.filter((p) => p.kind !== 'wal-deleted' && p.kind !== 'wal-overwritten'),
          status: undefined,
        });
        expect(withoutEventOnly(fromEvents)).toEqual(withoutEventOnly(fromListing));
      }),
      { numRuns: 300 },
    );
  });

  it('ignores an older store arriving after a removal of the same key', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    const key = 'c/wal_005/000000010000000000000001.lz4';
    archive.apply({ key, type: 'removed', at: 2, sequencer: '0B' });
    expect(archive.apply({ key, type: 'created', at: 1, sequencer: '0A', etag: 'x', size: 1 })).toBe(
      'unchanged',
    );
    expect(archive.states.get('c')?.segments).toEqual({});
    expect(archive.states.get('c')?.deleted).toEqual({ '1': [[1, 1]] });
  });

  it('compares sequencers of different lengths as hex numbers', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    const key = 'c/wal_005/000000010000000000000001.lz4';
    archive.apply({ key, type: 'created', at: 5, sequencer: '00FF', etag: 'x', size: 1 });
    expect(archive.apply({ key, type: 'removed', at: 1, sequencer: 'F' })).toBe('unchanged');
    expect(archive.states.get('c')?.segments).toEqual({ '1': [[1, 1]] });
  });

  it('keeps a segment present while another compression variant of it remains', () => {
    const archive = new MemoryArchive(() => 16 * MIB);
    archive.apply({ key: 'c/wal_005/000000010000000000000001.lzo', type: 'created', at: 1, sequencer: '1' });
    archive.apply({ key: 'c/wal_005/000000010000000000000001.lz4', type: 'created', at: 2, sequencer: '1' });
    archive.apply({ key: 'c/wal_005/000000010000000000000001.lzo', type: 'removed', at: 3, sequencer: '2' });
    const state = archive.states.get('c') as ClusterState;
    expect(state.segments).toEqual({ '1': [[1, 1]] });
    expect(state.edgeTimes).toEqual({ '1:1': 2 });
    expect(state.deleted).toEqual({});
  });
});
