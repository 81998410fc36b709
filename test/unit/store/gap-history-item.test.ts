import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClosedGapRecord,
  type GapHistory,
  MAX_CLOSED_GAPS,
  MAX_HISTORY_REASON,
  MAX_OPEN_GAPS,
  type OpenGapRecord,
} from '../../../shared/core/gap-history.js';
import { decodeGapHistory, encodeGapHistory } from '../../../shared/store/monitor-items.js';

const openArbitrary: fc.Arbitrary<OpenGapRecord> = fc.record({
  timeline: fc.integer({ min: 1, max: 0xffffffff }),
  firstSegno: fc.integer({ min: 0, max: 2 ** 40 }),
  lastSegno: fc.integer({ min: 0, max: 2 ** 40 }),
  firstSeenAt: fc.integer({ min: 0, max: 2 ** 45 }),
  worstStatus: fc.constantFrom('pending', 'lost', 'acknowledged'),
  severity: fc.constantFrom('warning', 'critical'),
});
const closedArbitrary: fc.Arbitrary<ClosedGapRecord> = fc
  .tuple(
    openArbitrary,
    fc.integer({ min: 0, max: 2 ** 45 }),
    fc.constantFrom('filled', 'out-of-range'),
    fc.option(
      fc.record({ reason: fc.string(), by: fc.string(), at: fc.constant('2026-11-01T10:00:00.000Z') }),
      {
        nil: undefined,
      },
    ),
  )
  .map(([open, closedAt, outcome, acknowledgement]) => ({
    ...open,
    closedAt,
    outcome,
    ...(acknowledgement ? { acknowledgement } : {}),
  }));

/** DynamoDB's item size rules: names and string values in UTF-8, numbers about 1 byte per 2 digits + 1, lists 3 + 1 per element. */
function attributeSize(value: Record<string, unknown>): number {
  const size = (v: unknown): number => {
    const av = v as { S?: string; N?: string; L?: unknown[]; M?: Record<string, unknown> };
    if (av.S !== undefined) return Buffer.byteLength(av.S);
    if (av.N !== undefined) return Math.ceil(av.N.replace(/^-/, '').length / 2) + 1;
    if (av.L) return 3 + av.L.reduce<number>((total, item) => total + 1 + size(item), 0);
    if (av.M)
      return (
        3 +
        Object.entries(av.M).reduce((total, [k, item]) => total + 1 + Buffer.byteLength(k) + size(item), 0)
      );
    return 1;
  };
  return Object.entries(value).reduce((total, [name, v]) => total + Buffer.byteLength(name) + size(v), 0);
}

describe('encodeGapHistory', () => {
  it('stores what it reads back (property)', () => {
    fc.assert(
      fc.property(
        fc.array(openArbitrary, { maxLength: 20 }),
        fc.array(closedArbitrary, { maxLength: 20 }),
        (open, closed) => {
          const history: GapHistory = { open, closed };
          expect(decodeGapHistory(encodeGapHistory(history))).toEqual(history);
        },
      ),
    );
  });

  it('keeps a full history well under the 400 KB item limit, even with the longest kept reasons', () => {
    const open: OpenGapRecord[] = Array.from({ length: MAX_OPEN_GAPS }, (_, i) => ({
      timeline: 0xffffffff,
      firstSegno: 2 ** 40 + i,
      lastSegno: 2 ** 40 + i,
      firstSeenAt: Date.parse('2026-11-01T00:00:00Z'),
      worstStatus: 'lost',
      severity: 'critical',
    }));
    const closed: ClosedGapRecord[] = Array.from({ length: MAX_CLOSED_GAPS }, (_, i) => ({
      ...(open[i] as OpenGapRecord),
      closedAt: Date.parse('2026-11-02T00:00:00Z'),
      outcome: 'filled',
      acknowledgement: {
        // The longest reason a closed gap keeps, in 3-byte characters.
        reason: '漢'.repeat(MAX_HISTORY_REASON),
        by: `arn:aws:iam::123456789012:role/${'x'.repeat(64)}`,
        at: '2026-11-01T10:00:00.000Z',
      },
    }));
    const compact = attributeSize(marshall(encodeGapHistory({ open, closed })));
    const openOnly = attributeSize(marshall(encodeGapHistory({ open, closed: [] })));
    console.log(
      `gap history item attributes: ${compact} bytes full, ${openOnly} bytes for ${MAX_OPEN_GAPS} open gaps`,
    );
    expect(openOnly).toBeLessThan(10_000);
    expect(compact).toBeLessThan(70_000);
  });
});
