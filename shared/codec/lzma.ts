/**
 * Decoder for the classic ".lzma" stream ("LZMA alone"), the format WAL-G's `lzma` compressor writes
 * (`ulikunitz/xz/lzma`) and `xz --format=lzma` produces.
 *
 * Written for walwatch because the JavaScript decoders on npm keep decoding past the end of a truncated
 * body (reading missing bytes as 0xFF) until they run out of memory, and offer no output limit. This one
 * stops at the first missing byte and never grows its output past `maxBytes`.
 *
 * Layout: 1 byte properties (`lc + 9 * (lp + 5 * pb)`), u32 LE dictionary size, u64 LE uncompressed size
 * (all ones = unknown, then an end marker is mandatory), then the range-coded payload.
 */
import { CappedOutput } from './capped-output.js';
import { ContentUnreadableError, CorruptContentError } from './errors.js';

const HEADER_SIZE = 13;
const PROB_INIT = 1024;
const STATES = 12;
const POS_BITS_MAX = 4;
const LEN_TO_POS_STATES = 4;
const ALIGN_BITS = 4;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 128;
const MATCH_MIN_LEN = 2;
/** Distance value that encodes the end-of-stream marker. */
const END_MARKER_DISTANCE = 0xffff_ffff;

/** Whether `body` starts with a plausible LZMA-alone header (the format has no magic number). */
export function isLzmaAloneHeader(body: Uint8Array): boolean {
  if (body.length < HEADER_SIZE + 5) return false;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if ((body[0] as number) >= 9 * 5 * 5) return false;
  const dictionarySize = view.getUint32(1, true);
  // Encoders write 2^n or 2^n + 2^(n-1) (xz's own acceptance test for this format), or all ones.
  const plausibleDictionary =
    dictionarySize === 0xffff_ffff ||
    [0, 1].some((extra) => {
      const top = 2 ** Math.floor(Math.log2(Math.max(1, dictionarySize)));
      return dictionarySize === top + (extra ? top / 2 : 0);
    });
  const sizeHigh = view.getUint32(9, true);
  const sizeKnownOrUnknown = sizeHigh === 0xffff_ffff || sizeHigh < 0x100;
  // The range coder's first byte is always zero.
  return plausibleDictionary && sizeKnownOrUnknown && body[HEADER_SIZE] === 0;
}

class LengthDecoder {
  readonly choice = new Uint16Array(2).fill(PROB_INIT);
  readonly low = new Uint16Array((1 << POS_BITS_MAX) << 3).fill(PROB_INIT);
  readonly mid = new Uint16Array((1 << POS_BITS_MAX) << 3).fill(PROB_INIT);
  readonly high = new Uint16Array(256).fill(PROB_INIT);
}

/** One decoding run; all mutable state lives here so the hot methods stay monomorphic. */
class LzmaDecoder {
  private readonly input: Uint8Array;
  private inPos = HEADER_SIZE;
  private range = 0xffff_ffff;
  private code = 0;
  readonly out: CappedOutput;

  private readonly lc: number;
  private readonly lp: number;
  private readonly pb: number;
  private readonly dictionarySize: number;

  private readonly literal: Uint16Array;
  private readonly isMatch = new Uint16Array(STATES << POS_BITS_MAX).fill(PROB_INIT);
  private readonly isRep = new Uint16Array(STATES).fill(PROB_INIT);
  private readonly isRepG0 = new Uint16Array(STATES).fill(PROB_INIT);
  private readonly isRepG1 = new Uint16Array(STATES).fill(PROB_INIT);
  private readonly isRepG2 = new Uint16Array(STATES).fill(PROB_INIT);
  private readonly isRep0Long = new Uint16Array(STATES << POS_BITS_MAX).fill(PROB_INIT);
  private readonly posSlot = new Uint16Array(LEN_TO_POS_STATES << 6).fill(PROB_INIT);
  private readonly posSpecial = new Uint16Array(1 + FULL_DISTANCES - END_POS_MODEL_INDEX).fill(PROB_INIT);
  private readonly align = new Uint16Array(1 << ALIGN_BITS).fill(PROB_INIT);
  private readonly lenDecoder = new LengthDecoder();
  private readonly repLenDecoder = new LengthDecoder();

  constructor(input: Uint8Array, maxBytes: number) {
    this.input = input;
    let properties = input[0] as number;
    this.lc = properties % 9;
    properties = Math.floor(properties / 9);
    this.lp = properties % 5;
    this.pb = Math.floor(properties / 5);
    const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    this.dictionarySize = Math.max(4096, view.getUint32(1, true));
    this.literal = new Uint16Array(0x300 << (this.lc + this.lp)).fill(PROB_INIT);
    const knownSize = this.knownSize();
    this.out = new CappedOutput(maxBytes, knownSize ?? input.length * 4);
  }

  /** The uncompressed size from the header, or undefined when it is "unknown" (all ones). */
  knownSize(): number | undefined {
    const view = new DataView(this.input.buffer, this.input.byteOffset, this.input.byteLength);
    const low = view.getUint32(5, true);
    const high = view.getUint32(9, true);
    if (low === 0xffff_ffff && high === 0xffff_ffff) return undefined;
    return high * 0x1_0000_0000 + low;
  }

  private nextByte(): number {
    if (this.inPos >= this.input.length) throw new CorruptContentError('lzma stream is truncated');
    return this.input[this.inPos++] as number;
  }

  private decodeBit(probs: Uint16Array, index: number): number {
    const prob = probs[index] as number;
    const bound = (this.range >>> 11) * prob;
    let bit: number;
    if (this.code < bound) {
      this.range = bound;
      probs[index] = prob + ((2048 - prob) >>> 5);
      bit = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      probs[index] = prob - (prob >>> 5);
      bit = 1;
    }
    if (this.range < 0x100_0000) {
      this.range = (this.range * 256) >>> 0;
      this.code = ((this.code * 256) >>> 0) + this.nextByte();
    }
    return bit;
  }

  private decodeDirectBits(count: number): number {
    let result = 0;
    for (let i = 0; i < count; i++) {
      this.range >>>= 1;
      let bit = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        bit = 1;
      }
      result = result * 2 + bit;
      if (this.range < 0x100_0000) {
        this.range = (this.range * 256) >>> 0;
        this.code = ((this.code * 256) >>> 0) + this.nextByte();
      }
    }
    return result;
  }

  private decodeTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) + this.decodeBit(probs, base + m);
    return m - (1 << bits);
  }

  private decodeReverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let symbol = 0;
    for (let i = 0; i < bits; i++) {
      const bit = this.decodeBit(probs, base + m);
      m = (m << 1) + bit;
      symbol |= bit << i;
    }
    return symbol;
  }

  private decodeLength(decoder: LengthDecoder, posState: number): number {
    if (this.decodeBit(decoder.choice, 0) === 0) return this.decodeTree(decoder.low, posState << 3, 3);
    if (this.decodeBit(decoder.choice, 1) === 0) return 8 + this.decodeTree(decoder.mid, posState << 3, 3);
    return 16 + this.decodeTree(decoder.high, 0, 8);
  }

  private decodeDistance(length: number): number {
    const lenState = Math.min(length, LEN_TO_POS_STATES - 1);
    const slot = this.decodeTree(this.posSlot, lenState << 6, 6);
    if (slot < 4) return slot;
    const directBits = (slot >>> 1) - 1;
    let distance = (2 | (slot & 1)) * 2 ** directBits;
    if (slot < END_POS_MODEL_INDEX) {
      distance += this.decodeReverseTree(this.posSpecial, distance - slot, directBits);
    } else {
      distance += this.decodeDirectBits(directBits - ALIGN_BITS) * 16;
      distance += this.decodeReverseTree(this.align, 0, ALIGN_BITS);
    }
    return distance;
  }

  private decodeLiteral(state: number, rep0: number): void {
    const out = this.out;
    const pos = out.length;
    const previous = pos > 0 ? (out.bytes[pos - 1] as number) : 0;
    const litState = ((pos & ((1 << this.lp) - 1)) << this.lc) + (previous >>> (8 - this.lc));
    const base = 0x300 * litState;
    let symbol = 1;
    if (state >= 7) {
      let matchByte = out.bytes[pos - rep0 - 1] as number;
      while (symbol < 0x100) {
        const matchBit = (matchByte >>> 7) & 1;
        matchByte <<= 1;
        const bit = this.decodeBit(this.literal, base + ((1 + matchBit) << 8) + symbol);
        symbol = (symbol << 1) | bit;
        if (matchBit !== bit) break;
      }
    }
    while (symbol < 0x100) symbol = (symbol << 1) | this.decodeBit(this.literal, base + symbol);
    out.reserve(1);
    out.bytes[out.length++] = symbol - 0x100;
  }

  private copyMatch(distance: number, length: number): void {
    const out = this.out;
    out.reserve(length);
    const bytes = out.bytes;
    let from = out.length - distance - 1;
    let to = out.length;
    const end = to + length;
    while (to < end) bytes[to++] = bytes[from++] as number;
    out.length = end;
  }

  /** Decodes the whole payload; throws {@link CorruptContentError} on any inconsistency. */
  run(): void {
    if (this.nextByte() !== 0) throw new CorruptContentError('lzma stream does not start with a zero byte');
    for (let i = 0; i < 4; i++) this.code = ((this.code * 256) >>> 0) + this.nextByte();
    if (this.code === this.range)
      throw new CorruptContentError('lzma stream has an invalid range coder start');

    let remaining = this.knownSize();
    let state = 0;
    let rep0 = 0;
    let rep1 = 0;
    let rep2 = 0;
    let rep3 = 0;
    const pbMask = (1 << this.pb) - 1;
    for (;;) {
      if (remaining === 0 && this.code === 0) return;
      const posState = this.out.length & pbMask;
      if (this.decodeBit(this.isMatch, (state << POS_BITS_MAX) + posState) === 0) {
        if (remaining === 0) throw new CorruptContentError('lzma stream has data past its declared size');
        this.decodeLiteral(state, rep0);
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        if (remaining !== undefined) remaining--;
        continue;
      }
      let length: number;
      if (this.decodeBit(this.isRep, state) !== 0) {
        if (remaining === 0) throw new CorruptContentError('lzma stream has data past its declared size');
        if (this.out.length === 0) throw new CorruptContentError('lzma stream repeats before any data');
        if (this.decodeBit(this.isRepG0, state) === 0) {
          if (this.decodeBit(this.isRep0Long, (state << POS_BITS_MAX) + posState) === 0) {
            state = state < 7 ? 9 : 11;
            this.copyMatch(rep0, 1);
            if (remaining !== undefined) remaining--;
            continue;
          }
        } else {
          let distance: number;
          if (this.decodeBit(this.isRepG1, state) === 0) {
            distance = rep1;
          } else {
            if (this.decodeBit(this.isRepG2, state) === 0) {
              distance = rep2;
            } else {
              distance = rep3;
              rep3 = rep2;
            }
            rep2 = rep1;
          }
          rep1 = rep0;
          rep0 = distance;
        }
        length = this.decodeLength(this.repLenDecoder, posState);
        state = state < 7 ? 8 : 11;
      } else {
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        length = this.decodeLength(this.lenDecoder, posState);
        state = state < 7 ? 7 : 10;
        rep0 = this.decodeDistance(length);
        if (rep0 === END_MARKER_DISTANCE) {
          if (this.code !== 0) throw new CorruptContentError('lzma end marker is followed by garbage');
          if (remaining !== undefined && remaining !== 0) {
            throw new CorruptContentError('lzma stream ends before its declared size');
          }
          return;
        }
        if (remaining === 0) throw new CorruptContentError('lzma stream has data past its declared size');
        if (rep0 >= this.dictionarySize || rep0 >= this.out.length) {
          throw new CorruptContentError('lzma match distance points before the start of the data');
        }
      }
      length += MATCH_MIN_LEN;
      if (remaining !== undefined) {
        if (remaining < length) throw new CorruptContentError('lzma match runs past the declared size');
        remaining -= length;
      }
      this.copyMatch(rep0, length);
    }
  }
}

/**
 * Decodes an LZMA-alone body into its original bytes.
 *
 * @throws {ContentUnreadableError} when the header is not an LZMA-alone header (encrypted or another format)
 * @throws {CorruptContentError} when the payload is truncated or inconsistent
 * @throws {ContentTooLargeError} when the output would exceed `maxBytes`
 */
export function decodeLzmaAlone(body: Uint8Array, maxBytes: number): Uint8Array {
  if (!isLzmaAloneHeader(body)) {
    throw new ContentUnreadableError(
      'body is not an lzma stream (bad header: encrypted or another format)',
      'unrecognised-format',
    );
  }
  const decoder = new LzmaDecoder(body, maxBytes);
  decoder.run();
  return decoder.out.result();
}
