/**
 * Decoder for the LZ4 frame format (magic `04 22 4D 18`), what WAL-G's default `lz4` compressor
 * (`pierrec/lz4/v4`) and the `lz4` command line write.
 *
 * A truncated upload must be an error, not a shorter segment, so every length is checked against the
 * input, every match offset against the output, and block and content checksums (xxHash32) are verified
 * when the frame declares them.
 *
 * Format: `lz4/lz4:doc/lz4_Frame_format.md` and `doc/lz4_Block_format.md`.
 */
import { CappedOutput } from './capped-output.js';
import { ContentUnreadableError, CorruptContentError } from './errors.js';
import { computeXxh32 } from './xxh32.js';

/** LZ4 frame magic number, little-endian `04 22 4D 18`. */
export const LZ4_FRAME_MAGIC = 0x184d_2204;
const SKIPPABLE_MAGIC_MASK = 0xffff_fff0;
const SKIPPABLE_MAGIC = 0x184d_2a50;
const MIN_MATCH = 4;
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22 };

function readU32(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) throw new CorruptContentError('lz4 frame is truncated');
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

/** Decodes one compressed block `src[start, end)` onto `out`; matches may not reach before `frameStart`. */
function decodeBlock(
  src: Uint8Array,
  start: number,
  end: number,
  out: CappedOutput,
  frameStart: number,
): void {
  let s = start;
  let dst = out.bytes;
  let d = out.length;
  while (s < end) {
    const token = src[s++] as number;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (s >= end) throw new CorruptContentError('lz4 literal length runs past its block');
        b = src[s++] as number;
        literals += b;
      } while (b === 255);
    }
    if (s + literals > end) throw new CorruptContentError('lz4 literals run past their block');
    if (d + literals > dst.length) {
      out.length = d;
      out.reserve(literals);
      dst = out.bytes;
    }
    if (literals > 32) {
      dst.set(src.subarray(s, s + literals), d);
      d += literals;
      s += literals;
    } else {
      for (const stop = s + literals; s < stop; ) dst[d++] = src[s++] as number;
    }
    // The last sequence of a block has literals only.
    if (s === end) break;
    if (s + 2 > end) throw new CorruptContentError('lz4 match offset runs past its block');
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    if (offset === 0 || offset > d - frameStart) {
      throw new CorruptContentError('lz4 match offset points before the start of the data');
    }
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        if (s >= end) throw new CorruptContentError('lz4 match length runs past its block');
        b = src[s++] as number;
        length += b;
      } while (b === 255);
    }
    length += MIN_MATCH;
    if (d + length > dst.length) {
      out.length = d;
      out.reserve(length);
      dst = out.bytes;
    }
    let from = d - offset;
    if (offset >= length && length > 32) {
      dst.copyWithin(d, from, from + length);
      d += length;
    } else {
      // Short or overlapping match (an overlapping one reads bytes it has just written: a run).
      for (const stop = d + length; d < stop; ) dst[d++] = dst[from++] as number;
    }
  }
  out.length = d;
}

/** What a frame's descriptor declares, and where its first block starts. */
interface FrameHeader {
  readonly hasBlockChecksum: boolean;
  readonly hasContentSize: boolean;
  readonly hasContentChecksum: boolean;
  readonly blockMaxSize: number;
  readonly dataStart: number;
}

/** Reads and checks the descriptor of the frame starting at `at`. */
function readFrameHeader(body: Uint8Array, at: number): FrameHeader {
  const s = at + 4;
  if (s + 3 > body.length) throw new CorruptContentError('lz4 frame header is truncated');
  const flags = body[s] as number;
  const blockDescriptor = body[s + 1] as number;
  if (flags >>> 6 !== 1) throw new CorruptContentError(`lz4 frame version ${flags >>> 6} is not 1`);
  const hasBlockChecksum = (flags & 0x10) !== 0;
  const hasContentSize = (flags & 0x08) !== 0;
  const hasContentChecksum = (flags & 0x04) !== 0;
  const hasDictionary = (flags & 0x01) !== 0;
  const blockMaxSize = BLOCK_MAX_SIZES[(blockDescriptor >>> 4) & 7];
  if (blockMaxSize === undefined) throw new CorruptContentError('lz4 frame declares an invalid block size');
  const descriptorEnd = s + 2 + (hasContentSize ? 8 : 0) + (hasDictionary ? 4 : 0);
  if (descriptorEnd + 1 > body.length) throw new CorruptContentError('lz4 frame header is truncated');
  // Header checksum: second byte of xxh32 over the descriptor.
  if (((computeXxh32(body, s, descriptorEnd) >>> 8) & 0xff) !== body[descriptorEnd]) {
    throw new CorruptContentError('lz4 frame header checksum does not match');
  }
  if (hasDictionary) throw new ContentUnreadableError('lz4 frame needs a dictionary', 'unrecognised-format');
  return { hasBlockChecksum, hasContentSize, hasContentChecksum, blockMaxSize, dataStart: descriptorEnd + 1 };
}

/** Decodes one frame starting at `at`; returns the offset just after it. */
function decodeFrame(body: Uint8Array, at: number, out: CappedOutput): number {
  const { hasBlockChecksum, hasContentSize, hasContentChecksum, blockMaxSize, dataStart } = readFrameHeader(
    body,
    at,
  );
  let s = dataStart;

  const frameStart = out.length;
  for (;;) {
    const word = readU32(body, s);
    s += 4;
    if (word === 0) break;
    const size = word & 0x7fff_ffff;
    if (size > blockMaxSize) throw new CorruptContentError('lz4 block is larger than the frame allows');
    if (s + size + (hasBlockChecksum ? 4 : 0) > body.length)
      throw new CorruptContentError('lz4 frame is truncated');
    if (hasBlockChecksum && computeXxh32(body, s, s + size) !== readU32(body, s + size)) {
      throw new CorruptContentError('lz4 block checksum does not match');
    }
    const before = out.length;
    if (word & 0x8000_0000) out.append(body.subarray(s, s + size));
    else decodeBlock(body, s, s + size, out, frameStart);
    if (out.length - before > blockMaxSize)
      throw new CorruptContentError('lz4 block expands past its maximum');
    s += size + (hasBlockChecksum ? 4 : 0);
  }
  if (hasContentChecksum) {
    const expected = readU32(body, s);
    s += 4;
    if (computeXxh32(out.bytes, frameStart, out.length) !== expected) {
      throw new CorruptContentError('lz4 content checksum does not match');
    }
  }
  if (hasContentSize) {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const declared = view.getUint32(at + 6, true) + view.getUint32(at + 10, true) * 0x1_0000_0000;
    if (declared !== out.length - frameStart) {
      throw new CorruptContentError('lz4 frame content size does not match its header');
    }
  }
  return s;
}

/**
 * Decodes a body of one or more LZ4 frames (skippable frames are skipped).
 *
 * @throws {ContentUnreadableError} when the body does not start with the LZ4 frame magic (encrypted or
 *   another format)
 * @throws {CorruptContentError} when a frame is truncated or damaged
 * @throws {ContentTooLargeError} when the output would exceed `maxBytes`
 */
export function decodeLz4Frames(body: Uint8Array, maxBytes: number): Uint8Array {
  if (body.length < 4 || readU32(body, 0) !== LZ4_FRAME_MAGIC) {
    throw new ContentUnreadableError(
      'body is not an lz4 frame (bad magic: encrypted or another format)',
      'unrecognised-format',
    );
  }
  const out = new CappedOutput(maxBytes, body.length * 3);
  let at = 0;
  while (at < body.length) {
    const magic = readU32(body, at);
    if (magic === LZ4_FRAME_MAGIC) {
      at = decodeFrame(body, at, out);
    } else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      at += 8 + readU32(body, at + 4);
      if (at > body.length) throw new CorruptContentError('lz4 skippable frame is truncated');
    } else {
      throw new CorruptContentError(`unexpected bytes after an lz4 frame at offset ${at}`);
    }
  }
  return out.result();
}

/**
 * Decodes the first `want` bytes of an LZ4 body from a prefix of it (a ranged read): the blocks of the first
 * frame are decoded until `want` bytes are out or the prefix ends mid-block, without the checksums that
 * need the whole block. Returns fewer bytes when the prefix holds fewer.
 *
 * @throws {ContentUnreadableError} when the body does not start with the LZ4 frame magic
 * @throws {CorruptContentError} when what the prefix holds is damaged
 */
export function decodeLz4Head(body: Uint8Array, want: number): Uint8Array {
  if (body.length < 4 || readU32(body, 0) !== LZ4_FRAME_MAGIC) {
    throw new ContentUnreadableError(
      'body is not an lz4 frame (bad magic: encrypted or another format)',
      'unrecognised-format',
    );
  }
  const { hasBlockChecksum, blockMaxSize, dataStart } = readFrameHeader(body, 0);
  const out: number[] = [];
  let s = dataStart;
  while (out.length < want && s + 4 <= body.length) {
    const word = readU32(body, s);
    s += 4;
    if (word === 0) break;
    const size = word & 0x7fff_ffff;
    if (size > blockMaxSize) throw new CorruptContentError('lz4 block is larger than the frame allows');
    const end = Math.min(body.length, s + size);
    if (word & 0x8000_0000) for (let i = s; i < end && out.length < want; i++) out.push(body[i] as number);
    else decodeBlockHead(body, s, end, out, want);
    if (end < s + size) break;
    s = end + (hasBlockChecksum ? 4 : 0);
  }
  return Uint8Array.from(out.slice(0, want));
}

/** Decodes the sequences of block `src[start, end)` onto `out` until `want` bytes or the end of the input. */
function decodeBlockHead(src: Uint8Array, start: number, end: number, out: number[], want: number): void {
  let s = start;
  while (s < end && out.length < want) {
    const token = src[s++] as number;
    let literals = token >>> 4;
    if (literals === 15) {
      let b: number;
      do {
        if (s >= end) return;
        b = src[s++] as number;
        literals += b;
      } while (b === 255);
    }
    for (const stop = Math.min(end, s + literals); s < stop; ) out.push(src[s++] as number);
    if (s + 2 > end) return;
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    if (offset === 0 || offset > out.length) {
      throw new CorruptContentError('lz4 match offset points before the start of the data');
    }
    let length = token & 15;
    if (length === 15) {
      let b: number;
      do {
        if (s >= end) return;
        b = src[s++] as number;
        length += b;
      } while (b === 255);
    }
    length += MIN_MATCH;
    let from = out.length - offset;
    for (let i = 0; i < length && out.length < want; i++) out.push(out[from++] as number);
  }
}
