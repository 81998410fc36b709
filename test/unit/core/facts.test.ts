import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideKeyFact, type KeyFact, type ObjectEvent } from '../../../shared/core/facts.js';

const KEY = 'c/wal_005/000000010000000000000001.lz4';

/** Distinct events of one key: each a store of content A or B, or a removal, with increasing sequencers. */
const history = fc.array(fc.constantFrom('A', 'B', 'removed'), { minLength: 1, maxLength: 6 }).map((kinds) =>
  kinds.map(
    (kind, index): ObjectEvent =>
      kind === 'removed'
        ? {
            key: KEY,
            type: 'removed',
            at: 1000 + index,
            sequencer: (index + 1).toString(16).padStart(4, '0'),
          }
        : {
            key: KEY,
            type: 'created',
            at: 1000 + index,
            sequencer: (index + 1).toString(16).padStart(4, '0'),
            size: kind === 'A' ? 10 : 11,
            etag: kind,
          },
  ),
);

describe('decideKeyFact', () => {
  it('reports an overwrite, in any arrival order, exactly when two stores had different content', () => {
    fc.assert(
      fc.property(
        history.chain((events) =>
          fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length })),
        ),
        ([events, arrival]) => {
          let fact: KeyFact | undefined;
          let overwrites = 0;
          for (const event of arrival) {
            const decision = decideKeyFact(fact, event);
            fact = decision.fact;
            if (decision.overwrite) overwrites += 1;
          }
          const contents = new Set(events.filter((e) => e.type === 'created').map((e) => e.etag));
          expect(overwrites > 0).toBe(contents.size > 1);
          expect(fact?.present).toBe((events.at(-1) as ObjectEvent).type === 'created');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps the earliest time when a listing and an event report the same store', () => {
    const event: ObjectEvent = { key: KEY, type: 'created', at: 2000, sequencer: '0A', size: 5, etag: '"e"' };
    const listing: ObjectEvent = { key: KEY, type: 'created', at: 1990, size: 5, etag: 'e' };
    const first = decideKeyFact(undefined, event).fact;
    expect(decideKeyFact(first, listing)).toMatchObject({
      changed: true,
      overwrite: null,
      fact: { at: 1990, present: true },
    });
    const other = decideKeyFact(undefined, listing).fact;
    expect(decideKeyFact(other, event)).toMatchObject({
      changed: false,
      overwrite: null,
      fact: { at: 1990 },
    });
  });
});
