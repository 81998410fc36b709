import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatLsn,
  isValidSegmentSize,
  parseLsn,
  parseWalFileName,
  segmentBeforeLsn,
  segmentOfLsn,
  segmentStartLsn,
  walFileName,
} from '../../../shared/core/lsn.js';

const SIZES = Array.from({ length: 11 }, (_, i) => 2 ** (20 + i));

describe('parseLsn / formatLsn', () => {
  it.each([
    ['0/5000028', 0x5000028n],
    ['0/05000028', 0x5000028n],
    ['306/60000028', 0x30660000028n],
    ['ffffffff/ffffffff', 0xffffffffffffffffn],
  ])('parses %s', (text, lsn) => {
    expect(parseLsn(text)).toBe(lsn);
  });

  it('prints uppercase without padding', () => {
    expect(formatLsn(0x5000028n)).toBe('0/5000028');
    expect(formatLsn(0xe0001a0n)).toBe('0/E0001A0');
    expect(formatLsn(0xffffffffffffffffn)).toBe('FFFFFFFF/FFFFFFFF');
  });

  it.each(['', '0', '0/', '/1', '0/123456789', 'x/1', '0/5000028 '.repeat(2)])('rejects %j', (text) => {
    expect(parseLsn(text)).toBeUndefined();
  });

  it('round-trips every 64-bit LSN exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (lsn) => parseLsn(formatLsn(lsn)) === lsn),
    );
  });
});

describe('walFileName / parseWalFileName', () => {
  it('names segments as PostgreSQL does', () => {
    expect(walFileName(1, 0x0e, 16 * 2 ** 20)).toBe('00000001000000000000000E');
    expect(walFileName(2, 256, 16 * 2 ** 20)).toBe('000000020000000100000000');
    expect(walFileName(1, 4096, 2 ** 20)).toBe('000000010000000100000000');
    expect(walFileName(1, 5, 2 ** 30)).toBe('000000010000000100000001');
  });

  it('rejects a low field out of range for the segment size', () => {
    expect(parseWalFileName('000000010000000000000100', 16 * 2 ** 20)).toEqual({
      ok: false,
      reason: 'segment-out-of-range',
    });
    expect(parseWalFileName('000000010000000000000004', 2 ** 30)).toEqual({
      ok: false,
      reason: 'segment-out-of-range',
    });
    expect(parseWalFileName('000000010000000000000FFF', 2 ** 20)).toMatchObject({ ok: true, segno: 0xfff });
    expect(parseWalFileName('00000001000000000000000e', 16 * 2 ** 20)).toEqual({
      ok: false,
      reason: 'not-a-wal-name',
    });
  });

  it('round-trips names and agrees with LSN arithmetic for every segment size', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SIZES),
        fc.integer({ min: 1, max: 0xffff }),
        fc.bigInt({ min: 1n, max: 2n ** 52n }),
        (size, timeline, lsn) => {
          const segno = segmentOfLsn(lsn, size);
          const name = walFileName(timeline, segno, size);
          const parsed = parseWalFileName(name, size);
          // The middle field is the high 32 bits of the LSN; the last the low 32 bits / size.
          const middle = Number(lsn >> 32n);
          const low = Number((lsn & 0xffffffffn) / BigInt(size));
          return (
            parsed.ok &&
            parsed.segno === segno &&
            parsed.timeline === timeline &&
            name.slice(8, 16) === middle.toString(16).toUpperCase().padStart(8, '0') &&
            name.slice(16) === low.toString(16).toUpperCase().padStart(8, '0') &&
            segmentStartLsn(segno, size) <= lsn &&
            (segno === 0 || segmentBeforeLsn(segmentStartLsn(segno, size), size) === segno - 1)
          );
        },
      ),
    );
  });

  it('accepts only powers of two from 1 MiB to 1 GiB', () => {
    expect(SIZES.every(isValidSegmentSize)).toBe(true);
    expect([2 ** 19, 2 ** 31, 3 * 2 ** 20, 0].some(isValidSegmentSize)).toBe(false);
  });
});
