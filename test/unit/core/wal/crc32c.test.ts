import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CRC32C_INIT,
  type Crc32cFunction,
  computeCrc32c,
  finishCrc32c,
  NATIVE_CRC32C_MIN_BYTES,
  updateCrc32c,
  updateCrc32cWith,
} from '../../../../shared/core/wal/crc32c.js';
import { crcInPieces } from '../../../support/crc-pieces.js';

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

/** A stand-in for a native CRC-32C: continues from a final value, as `@node-rs/crc32` does; logs lengths. */
function standIn(lengths: number[]): Crc32cFunction {
  return (bytes, previous) => {
    lengths.push(bytes.length);
    return finishCrc32c(updateCrc32c(~previous, bytes, 0, bytes.length));
  };
}

describe('updateCrc32cWith', () => {
  const CHECK = new TextEncoder().encode('123456789');

  it('returns the check value for "123456789" through a function that continues from final values', () => {
    const native = standIn([]);
    expect(native(CHECK, 0)).toBe(0xe3069283);
    expect(native(CHECK.subarray(4), native(CHECK.subarray(0, 4), 0))).toBe(0xe3069283);
  });

  it('hands pieces of at least the threshold to the function, keeps shorter ones, for every length', () => {
    const data = Uint8Array.from(
      { length: 2 * NATIVE_CRC32C_MIN_BYTES + 64 },
      (_, i) => (i * 131 + 7) & 0xff,
    );
    const words = new Int32Array(data.buffer, 0, data.length >> 2);
    for (let length = 0; length <= data.length - 3; length++) {
      // Three starts, so that pieces begin on and off a word boundary.
      for (const start of [0, 1, 3]) {
        const end = start + length;
        const lengths: number[] = [];
        const register = updateCrc32cWith(standIn(lengths), CRC32C_INIT, data, start, end, words);
        expect(finishCrc32c(register)).toBe(computeCrc32c(data, start, end));
        expect(lengths).toEqual(length >= NATIVE_CRC32C_MIN_BYTES ? [length] : []);
      }
    }
  });

  it('gives the same CRC as the tables for any split of any data between the two', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3 * NATIVE_CRC32C_MIN_BYTES }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (data, cuts) => {
          expect(crcInPieces(standIn([]), data, cuts)).toBe(computeCrc32c(data));
        },
      ),
    );
  });

  it('uses the tables alone when no function is given', () => {
    const data = new Uint8Array(4 * NATIVE_CRC32C_MIN_BYTES).fill(0x5a);
    const words = new Int32Array(data.buffer);
    const register = updateCrc32cWith(undefined, CRC32C_INIT, data, 0, data.length, words);
    expect(finishCrc32c(register)).toBe(computeCrc32c(data));
  });
});
