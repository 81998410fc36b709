import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNativeCrc32c } from '../../../shared/codec/crc32c-native.js';
import {
  CRC32C_INIT,
  computeCrc32c,
  finishCrc32c,
  NATIVE_CRC32C_MIN_BYTES,
  updateCrc32cWith,
} from '../../../shared/core/wal/crc32c.js';
import { crcInPieces } from '../../support/crc-pieces.js';

/** Platforms `@node-rs/crc32` ships a binary for, among those walwatch runs on. */
const SHIPPED = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'].includes(
  `${process.platform}-${process.arch}`,
);

describe('loadNativeCrc32c', () => {
  it('loads the native CRC-32C where the package ships a binary, and says which one is used', () => {
    const { crc32c, description } = loadNativeCrc32c();
    if (SHIPPED) expect(crc32c).toBeDefined();
    expect(description).toMatch(crc32c ? /^native/ : /^tables/);
  });

  it('returns the same function on every call (loaded once)', () => {
    expect(loadNativeCrc32c()).toBe(loadNativeCrc32c());
  });

  const { crc32c } = loadNativeCrc32c();

  it.skipIf(crc32c === undefined)('returns the check value for "123456789", whole and continued', () => {
    const native = crc32c as NonNullable<typeof crc32c>;
    const check = new TextEncoder().encode('123456789');
    expect(native(check, 0)).toBe(0xe3069283);
    expect(native(check.subarray(5), native(check.subarray(0, 5), 0))).toBe(0xe3069283);
  });

  it.skipIf(crc32c === undefined)(
    'gives the tables’ CRC for pieces of every length around the threshold',
    () => {
      const data = Uint8Array.from({ length: 3 * NATIVE_CRC32C_MIN_BYTES }, (_, i) => (i * 37 + 11) & 0xff);
      const words = new Int32Array(data.buffer);
      for (let length = 0; length <= data.length - 8; length++) {
        const start = length % 8;
        const register = updateCrc32cWith(crc32c, CRC32C_INIT, data, start, start + length, words);
        expect(finishCrc32c(register)).toBe(computeCrc32c(data, start, start + length));
      }
    },
  );

  it.skipIf(crc32c === undefined)('gives the tables’ CRC for any data fed in any pieces', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 20_000 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (data, cuts) => {
          expect(crcInPieces(crc32c, data, cuts)).toBe(computeCrc32c(data));
        },
      ),
      { numRuns: 200 },
    );
  });
});
