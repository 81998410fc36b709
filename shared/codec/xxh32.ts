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
  return avalanche(hash);
}

/** xxh32's final mix of the accumulated hash. */
function avalanche(input: number): number {
  let hash = input;
  hash ^= hash >>> 15;
  hash = Math.imul(hash, PRIME2);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, PRIME3);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * xxHash32 over bytes given in pieces (`update` in order, then `digest`), for checking an LZ4 content
 * checksum while its blocks stream past. Gives the same value as {@link computeXxh32} over the joined bytes.
 */
export class Xxh32Stream {
  #v1 = (PRIME1 + PRIME2) | 0;
  #v2 = PRIME2 | 0;
  #v3 = 0;
  #v4 = -PRIME1 | 0;
  #length = 0;
  /** Bytes not yet folded into the lanes (fewer than 16). */
  #pending = new Uint8Array(16);
  #pendingLength = 0;

  /** Adds `bytes` to the hashed input. */
  update(bytes: Uint8Array): this {
    this.#length += bytes.length;
    let at = 0;
    if (this.#pendingLength > 0) {
      const take = Math.min(16 - this.#pendingLength, bytes.length);
      this.#pending.set(bytes.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      at = take;
      if (this.#pendingLength < 16) return this;
      this.#stripe(this.#pending, 0);
      this.#pendingLength = 0;
    }
    for (const limit = bytes.length - 16; at <= limit; at += 16) this.#stripe(bytes, at);
    this.#pending.set(bytes.subarray(at));
    this.#pendingLength = bytes.length - at;
    return this;
  }

  /** The hash of everything added so far. */
  digest(): number {
    const tail = this.#pending.subarray(0, this.#pendingLength);
    if (this.#length < 16) return computeXxh32(tail);
    let hash = (rotl(this.#v1, 1) + rotl(this.#v2, 7) + rotl(this.#v3, 12) + rotl(this.#v4, 18)) | 0;
    // The length is folded in modulo 2^32, as the specification's 32-bit total does.
    hash = (hash + (this.#length % 0x1_0000_0000)) | 0;
    let at = 0;
    for (; at + 4 <= tail.length; at += 4)
      hash = Math.imul(rotl((hash + Math.imul(readU32(tail, at), PRIME3)) | 0, 17), PRIME4);
    for (; at < tail.length; at++)
      hash = Math.imul(rotl((hash + Math.imul(tail[at] as number, PRIME5)) | 0, 11), PRIME1);
    return avalanche(hash);
  }

  #stripe(bytes: Uint8Array, at: number): void {
    this.#v1 = round(this.#v1, readU32(bytes, at));
    this.#v2 = round(this.#v2, readU32(bytes, at + 4));
    this.#v3 = round(this.#v3, readU32(bytes, at + 8));
    this.#v4 = round(this.#v4, readU32(bytes, at + 12));
  }
}
