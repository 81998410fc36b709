/**
 * xxHash32, the checksum of the LZ4 frame format (header, block and content checksums).
 * Constants and steps follow the xxHash specification (`doc/xxhash_spec.md` in Cyan4973/xxHash).
 */
const PRIME1 = 0x9e37_79b1;
const PRIME2 = 0x85eb_ca77;
const PRIME3 = 0xc2b2_ae3d;
const PRIME4 = 0x27d4_eb2f;
const PRIME5 = 0x1656_67b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

/** The unsigned 32-bit xxHash32 of `bytes[start, end)` with `seed`. */
export function computeXxh32(bytes: Uint8Array, start = 0, end = bytes.length, seed = 0): number {
  let at = start;
  let hash: number;
  if (end - start >= 16) {
    let v1 = (seed + PRIME1 + PRIME2) | 0;
    let v2 = (seed + PRIME2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME1) | 0;
    const limit = end - 16;
    while (at <= limit) {
      v1 = round(v1, readU32(bytes, at));
      v2 = round(v2, readU32(bytes, at + 4));
      v3 = round(v3, readU32(bytes, at + 8));
      v4 = round(v4, readU32(bytes, at + 12));
      at += 16;
    }
    hash = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    hash = (seed + PRIME5) | 0;
  }
  hash = (hash + (end - start)) | 0;
  while (at + 4 <= end) {
    hash = Math.imul(rotl((hash + Math.imul(readU32(bytes, at), PRIME3)) | 0, 17), PRIME4);
    at += 4;
  }
  while (at < end) {
    hash = Math.imul(rotl((hash + Math.imul(bytes[at] as number, PRIME5)) | 0, 11), PRIME1);
    at++;
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, PRIME2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, PRIME3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
