import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CRC32C_INIT,
  computeCrc32c,
  finishCrc32c,
  updateCrc32c,
} from '../../../../shared/core/wal/crc32c.js';

describe('computeCrc32c', () => {
  it('returns the CRC-32C check value for "123456789"', () => {
    // The catalogue check value of CRC-32/ISCSI (Castagnoli), the variant PostgreSQL's pg_crc32c computes.
    expect(computeCrc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('returns the xl_crc PostgreSQL 15 wrote for a commit record', () => {
    // walg-layout.md §4.9: a COMMIT record read with pg_waldump, xl_crc 0x80A69415 over [24, 34) then [0, 20).
    const record = Uint8Array.from([
      0x22, 0x00, 0x00, 0x00, 0xd8, 0x02, 0x00, 0x00, 0x90, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x01, 0x00, 0x00, 0x15, 0x94, 0xa6, 0x80, 0xff, 0x08, 0x61, 0x21, 0x74, 0x58, 0x05, 0x04, 0x03, 0x00,
    ]);
    const register = updateCrc32c(updateCrc32c(CRC32C_INIT, record, 24, 34), record, 0, 20);
    expect(finishCrc32c(register)).toBe(0x80a69415);
  });

  it('returns the same value through the word path at any alignment and split point', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat(), fc.nat(), (data, a, b) => {
        const buffer = new Uint8Array(data.length + 8);
        buffer.set(data, 4);
        const words = new Int32Array(buffer.buffer, 0, buffer.length >> 2);
        const start = 4 + (a % (data.length + 1));
        const split = start + (b % (data.length + 5 - start));
        const whole = computeCrc32c(buffer, start, data.length + 4);
        const parts = updateCrc32c(
          updateCrc32c(CRC32C_INIT, buffer, start, split, words),
          buffer,
          split,
          data.length + 4,
          words,
        );
        expect(finishCrc32c(parts)).toBe(whole);
      }),
    );
  });
});
