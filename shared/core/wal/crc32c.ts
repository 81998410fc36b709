/**
 * CRC-32C (Castagnoli), the checksum of every WAL record (`xl_crc`).
 *
 * Reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF (PostgreSQL `pg_crc32c`).
 * Table-driven, many bytes per step ("slicing by 8", and by 16 on the word path): one table per byte position,
 * so a step is independent lookups instead of a chain of dependent ones. The checksum covers every byte the WAL reader scans,
 * so its speed is the reader's speed; callers that can offer a 32-bit word view of their buffer get the
 * fast path (two word loads per step instead of eight byte loads). Where native code is at hand, an adapter
 * can pass it in as a {@link Crc32cFunction}: {@link updateCrc32cWith} hands it the long pieces and keeps
 * the short ones here.
 */

const POLYNOMIAL = 0x82f6_3b78;

/** Table `t` (0–15) lives at `[t * 256, t * 256 + 256)`: CRC of byte `n` followed by `t` zero bytes. */
const TABLE = buildTable();

function buildTable(): Int32Array {
  const table = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  for (let t = 1; t < 16; t++) {
    for (let n = 0; n < 256; n++) {
      const c = table[(t - 1) * 256 + n] as number;
      table[t * 256 + n] = (c >>> 8) ^ (table[c & 0xff] as number);
    }
  }
  return table;
}

/** The register value to start a CRC-32C with. */
export const CRC32C_INIT = -1;

/**
 * Feeds `bytes[start, end)` into a running CRC-32C register and returns the new register.
 * Start with {@link CRC32C_INIT}; finish with {@link finishCrc32c}.
 *
 * @param words - optional little-endian 32-bit view of the same memory as `bytes`, starting at the same
 *   address (`new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2)`, byteOffset a multiple of 4)
 */
export function updateCrc32c(
  register: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  words?: Int32Array,
): number {
  return words === undefined
    ? updateBytewise(register, bytes, start, end)
    : updateCrc32cWords(register, bytes, start, end, words);
}

/**
 * {@link updateCrc32c}'s fast path, callable directly from a hot loop: `words` must view the same memory as
 * `bytes` from the same 4-byte aligned address.
 */
export function updateCrc32cWords(
  register: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  words: Int32Array,
): number {
  const T = TABLE;
  let crc = register;
  let i = start;
  while (i < end && (i & 3) !== 0) {
    crc = (T[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  if ((i & 3) !== 0) return crc;
  let w = i >> 2;
  const stop16 = (end >> 2) - 3;
  while (w < stop16) {
    const a = crc ^ (words[w] as number);
    const b = words[w + 1] as number;
    const c = words[w + 2] as number;
    const d = words[w + 3] as number;
    crc =
      (T[3840 + (a & 0xff)] as number) ^
      (T[3584 + ((a >>> 8) & 0xff)] as number) ^
      (T[3328 + ((a >>> 16) & 0xff)] as number) ^
      (T[3072 + (a >>> 24)] as number) ^
      (T[2816 + (b & 0xff)] as number) ^
      (T[2560 + ((b >>> 8) & 0xff)] as number) ^
      (T[2304 + ((b >>> 16) & 0xff)] as number) ^
      (T[2048 + (b >>> 24)] as number) ^
      (T[1792 + (c & 0xff)] as number) ^
      (T[1536 + ((c >>> 8) & 0xff)] as number) ^
      (T[1280 + ((c >>> 16) & 0xff)] as number) ^
      (T[1024 + (c >>> 24)] as number) ^
      (T[768 + (d & 0xff)] as number) ^
      (T[512 + ((d >>> 8) & 0xff)] as number) ^
      (T[256 + ((d >>> 16) & 0xff)] as number) ^
      (T[d >>> 24] as number);
    w += 4;
  }
  const stop = (end >> 2) - 1;
  while (w < stop) {
    const a = crc ^ (words[w] as number);
    const b = words[w + 1] as number;
    crc =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (b & 0xff)] as number) ^
      (T[512 + ((b >>> 8) & 0xff)] as number) ^
      (T[256 + ((b >>> 16) & 0xff)] as number) ^
      (T[b >>> 24] as number);
    w += 2;
  }
  i = w << 2;
  while (i < end) {
    crc = (T[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  return crc;
}

function updateBytewise(register: number, bytes: Uint8Array, start: number, end: number): number {
  const T = TABLE;
  let crc = register;
  let i = start;
  const stop = end - 8;
  while (i <= stop) {
    const a =
      crc ^
      ((bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24));
    crc =
      (T[1792 + (a & 0xff)] as number) ^
      (T[1536 + ((a >>> 8) & 0xff)] as number) ^
      (T[1280 + ((a >>> 16) & 0xff)] as number) ^
      (T[1024 + (a >>> 24)] as number) ^
      (T[768 + (bytes[i + 4] as number)] as number) ^
      (T[512 + (bytes[i + 5] as number)] as number) ^
      (T[256 + (bytes[i + 6] as number)] as number) ^
      (T[bytes[i + 7] as number] as number);
    i += 8;
  }
  while (i < end) {
    crc = (T[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
    i++;
  }
  return crc;
}

/**
 * A CRC-32C routine supplied from outside the core (native code, `shared/codec/crc32c-native.ts`).
 * It continues from `previous`, a *final* CRC value (0 to start), so that
 * `crc32c(tail, crc32c(head, 0)) === crc32c(head + tail, 0)`, and returns a final value.
 */
export type Crc32cFunction = (bytes: Uint8Array, previous: number) => number;

/**
 * Pieces shorter than this stay on the tables even when a {@link Crc32cFunction} is given: a call into a
 * native module costs about 250 ns, the time the tables take for about 350 bytes (measured on x86-64 with
 * `@node-rs/crc32`). Most TPC-B records are around 100 bytes; block images are up to 8 KiB.
 */
export const NATIVE_CRC32C_MIN_BYTES = 512;

/**
 * {@link updateCrc32cWords}, with pieces of at least {@link NATIVE_CRC32C_MIN_BYTES} bytes handed to `native`
 * when one is given. Registers stay in the table form (not inverted): the final value is the register's
 * complement, in both directions.
 */
export function updateCrc32cWith(
  native: Crc32cFunction | undefined,
  register: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  words: Int32Array,
): number {
  if (native !== undefined && end - start >= NATIVE_CRC32C_MIN_BYTES) {
    return ~native(bytes.subarray(start, end), ~register >>> 0);
  }
  return updateCrc32cWords(register, bytes, start, end, words);
}

/** The final CRC-32C value of a register, as an unsigned 32-bit number. */
export function finishCrc32c(register: number): number {
  return (register ^ -1) >>> 0;
}

/**
 * The CRC-32C of `bytes[start, end)`.
 *
 * @example computeCrc32c(new TextEncoder().encode('123456789')) // 0xE3069283
 */
export function computeCrc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finishCrc32c(updateCrc32c(CRC32C_INIT, bytes, start, end));
}
