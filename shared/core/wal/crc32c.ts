/**
 * CRC-32C (Castagnoli), the checksum of every WAL record (`xl_crc`).
 *
 * Reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF (PostgreSQL `pg_crc32c`).
 * Table-driven, eight bytes per step ("slicing by 8"): one table per byte position, so a step is eight
 * independent lookups instead of eight dependent ones. This checksum covers every byte the reader scans, so
 * its speed is the reader's speed.
 */

const POLYNOMIAL = 0x82f6_3b78;

function buildTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0] as Uint32Array;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1] as Uint32Array;
    const table = tables[t] as Uint32Array;
    for (let n = 0; n < 256; n++) {
      const c = previous[n] as number;
      table[n] = ((c >>> 8) ^ (first[c & 0xff] as number)) >>> 0;
    }
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** The register value to start a CRC-32C with. */
export const CRC32C_INIT = 0xffff_ffff;

/**
 * Feeds `bytes[start, end)` into a running CRC-32C register and returns the new register.
 * Start with {@link CRC32C_INIT}; finish with {@link finishCrc32c}.
 */
export function updateCrc32c(register: number, bytes: Uint8Array, start: number, end: number): number {
  let crc = register;
  let i = start;
  const stop8 = end - 8;
  while (i <= stop8) {
    const low =
      crc ^
      ((bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24));
    crc =
      (T7[low & 0xff] as number) ^
      (T6[(low >>> 8) & 0xff] as number) ^
      (T5[(low >>> 16) & 0xff] as number) ^
      (T4[low >>> 24] as number) ^
      (T3[bytes[i + 4] as number] as number) ^
      (T2[bytes[i + 5] as number] as number) ^
      (T1[bytes[i + 6] as number] as number) ^
      (T0[bytes[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) {
    crc = (T0[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  return crc;
}

/** The final CRC-32C value of a register, as an unsigned 32-bit number. */
export function finishCrc32c(register: number): number {
  return (register ^ 0xffff_ffff) >>> 0;
}

/**
 * The CRC-32C of `bytes[start, end)`.
 *
 * @example computeCrc32c(new TextEncoder().encode('123456789')) // 0xE3069283
 */
export function computeCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finishCrc32c(updateCrc32c(CRC32C_INIT, bytes, start, end));
}
