/**
 * Decoder for the LZ4 frame format (magic `04 22 4D 18`), what WAL-G's default `lz4` compressor
 * (`pierrec/lz4/v4`) and the `lz4` command line write.
 *
 * The frame layer (header, block sizes, checksums, skippable frames) is read here. Blocks are decoded in
 * native code on libuv's thread pool where it loads (`lz4-native.ts`), several independent blocks at once, so
 * a caller that streams the blocks (a tar unpack) overlaps decoding with its own work; elsewhere (the Lambda
 * bundles) by the JavaScript decoder below, with the same results. A truncated upload must be an error, not
 * a shorter file: every length is checked against the input, every match offset against the output, no
 * block may expand past the frame's block maximum, and block and content checksums (xxHash32) are verified
 * when the frame declares them.
 *
 * Format: `lz4/lz4:doc/lz4_Frame_format.md` and `doc/lz4_Block_format.md`.
 */
import { CappedOutput } from './capped-output.js';
import { ContentTooLargeError, ContentUnreadableError, CorruptContentError } from './errors.js';
import { loadNativeLz4, type NativeLz4Functions, type Xxh32Hasher } from './lz4-native.js';
import { computeXxh32, Xxh32Stream } from './xxh32.js';

/** LZ4 frame magic number, little-endian `04 22 4D 18`. */
export const LZ4_FRAME_MAGIC = 0x184d_2204;
const SKIPPABLE_MAGIC_MASK = 0xffff_fff0;
const SKIPPABLE_MAGIC = 0x184d_2a50;
const MIN_MATCH = 4;
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 1 << 16, 5: 1 << 18, 6: 1 << 20, 7: 1 << 22 };
/** A linked block may copy from the 64 KiB of output before it. */
const WINDOW = 1 << 16;
/** Independent blocks decoded at once: enough to keep both cores busy, little memory (≤ 4 × 4 MiB). */
const BLOCKS_IN_FLIGHT = 4;

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

/**
 * Decodes the block `src[start, end)` in JavaScript; matches may reach back into `dictionary` (the output
 * before the block in its frame) and no further; the output may not pass `blockMaxSize`.
 */
function decodeBlockInJs(
  src: Uint8Array,
  start: number,
  end: number,
  dictionary: Uint8Array,
  blockMaxSize: number,
): Uint8Array {
  const dst = new Uint8Array(dictionary.length + blockMaxSize);
  dst.set(dictionary);
  let s = start;
  let d = dictionary.length;
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
    if (d + literals > dst.length) throw new CorruptContentError('lz4 block expands past its maximum');
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
    if (offset === 0 || offset > d) {
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
    if (d + length > dst.length) throw new CorruptContentError('lz4 block expands past its maximum');
    let from = d - offset;
    if (offset >= length && length > 32) {
      dst.copyWithin(d, from, from + length);
      d += length;
    } else {
      // Short or overlapping match (an overlapping one reads bytes it has just written: a run).
      for (const stop = d + length; d < stop; ) dst[d++] = dst[from++] as number;
    }
  }
  return dst.subarray(dictionary.length, d);
}

/**
 * Starts decoding one compressed block: on the thread pool when the native decoder loaded (lz4_flex's
 * size-prepended form, whose prefix is the output's capacity: the block maximum, so a block that expands
 * past it fails), else at once in JavaScript.
 */
function startBlock(
  native: NativeLz4Functions | undefined,
  body: Uint8Array,
  start: number,
  size: number,
  blockMaxSize: number,
  dictionary: Uint8Array,
): Promise<Uint8Array> {
  // A JavaScript failure is thrown here and now, never left in a promise nobody awaits yet.
  if (!native) return Promise.resolve(decodeBlockInJs(body, start, start + size, dictionary, blockMaxSize));
  const input = Buffer.allocUnsafe(size + 4);
  input.writeUInt32LE(blockMaxSize, 0);
  input.set(body.subarray(start, start + size), 4);
  const decoded = native
    .uncompress(input, dictionary.length > 0 ? dictionary : null)
    .catch((error: unknown) => {
      throw new CorruptContentError(`lz4 block is damaged: ${(error as Error).message}`, { cause: error });
    });
  // A later block's failure may come while an earlier one is awaited; it is seen when its turn comes.
  decoded.catch(() => {});
  return decoded;
}

/** Keeps the last {@link WINDOW} bytes of a frame's output, the dictionary of its next linked block. */
function slideWindow(window: Uint8Array, chunk: Uint8Array): Uint8Array {
  if (chunk.length >= WINDOW) return chunk.subarray(chunk.length - WINDOW);
  const keep = Math.min(window.length, WINDOW - chunk.length);
  const next = new Uint8Array(keep + chunk.length);
  next.set(window.subarray(window.length - keep));
  next.set(chunk, keep);
  return next;
}

/** Where the decoder is in the body and how much it has produced. */
interface Cursor {
  at: number;
  total: number;
  readonly maxBytes: number;
  readonly native: NativeLz4Functions | undefined;
}

/** What a frame's descriptor declares, and where its first block starts. */
interface FrameHeader {
  readonly independent: boolean;
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
  const independent = (flags & 0x20) !== 0;
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
  return {
    independent,
    hasBlockChecksum,
    hasContentSize,
    hasContentChecksum,
    blockMaxSize,
    dataStart: descriptorEnd + 1,
  };
}

/** Decodes the frame at `cursor.at`, yielding its blocks in order; leaves `cursor.at` just after it. */
async function* decodeFrame(body: Uint8Array, cursor: Cursor): AsyncGenerator<Uint8Array> {
  const { independent, hasBlockChecksum, hasContentSize, hasContentChecksum, blockMaxSize, dataStart } =
    readFrameHeader(body, cursor.at);
  const at = cursor.at;
  let s = dataStart;

  const { native } = cursor;
  const blockHash = (start: number, end: number): number =>
    native ? native.xxh32(body.subarray(start, end), 0) : computeXxh32(body, start, end);
  const content: Xxh32Hasher | null = hasContentChecksum
    ? (native?.createXxh32() ?? new Xxh32Stream())
    : null;
  const frameStart = cursor.total;
  let window: Uint8Array = new Uint8Array(0);
  const pending: Promise<Uint8Array>[] = [];
  const emit = (chunk: Uint8Array): Uint8Array => {
    cursor.total += chunk.length;
    if (cursor.total > cursor.maxBytes) throw new ContentTooLargeError(cursor.maxBytes);
    content?.update(chunk);
    if (!independent) window = slideWindow(window, chunk);
    return chunk;
  };
  for (;;) {
    const word = readU32(body, s);
    s += 4;
    if (word === 0) break;
    const size = word & 0x7fff_ffff;
    if (size > blockMaxSize) throw new CorruptContentError('lz4 block is larger than the frame allows');
    if (s + size + (hasBlockChecksum ? 4 : 0) > body.length)
      throw new CorruptContentError('lz4 frame is truncated');
    if (hasBlockChecksum && blockHash(s, s + size) !== readU32(body, s + size)) {
      throw new CorruptContentError('lz4 block checksum does not match');
    }
    const stored = (word & 0x8000_0000) !== 0;
    if (stored) {
      pending.push(Promise.resolve(body.subarray(s, s + size)));
    } else if (independent) {
      pending.push(startBlock(native, body, s, size, blockMaxSize, new Uint8Array(0)));
    } else {
      // A linked block needs the output before it: every earlier block first.
      while (pending.length > 0) yield emit(await (pending.shift() as Promise<Uint8Array>));
      pending.push(startBlock(native, body, s, size, blockMaxSize, window));
    }
    s += size + (hasBlockChecksum ? 4 : 0);
    if (pending.length >= BLOCKS_IN_FLIGHT || !independent)
      yield emit(await (pending.shift() as Promise<Uint8Array>));
  }
  while (pending.length > 0) yield emit(await (pending.shift() as Promise<Uint8Array>));
  if (content) {
    const expected = readU32(body, s);
    s += 4;
    if (content.digest() !== expected) throw new CorruptContentError('lz4 content checksum does not match');
  }
  if (hasContentSize) {
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const declared = view.getUint32(at + 6, true) + view.getUint32(at + 10, true) * 0x1_0000_0000;
    if (declared !== cursor.total - frameStart) {
      throw new CorruptContentError('lz4 frame content size does not match its header');
    }
  }
  cursor.at = s;
}

/** Options of {@link decodeLz4FrameBlocks}. */
export interface Lz4DecodeOptions {
  /** Decode blocks in native code when it loads; `false` keeps them in JavaScript. @default true */
  readonly native?: boolean;
}

/**
 * Decodes a body of one or more LZ4 frames (skippable frames are skipped), yielding the output a block at
 * a time (up to 4 MiB each), in order. A checksum is verified when its frame ends, so a damaged frame
 * fails after some of its blocks were yielded: a consumer must treat the error as the end of the data.
 *
 * @throws {ContentUnreadableError} when the body does not start with the LZ4 frame magic (encrypted or
 *   another format)
 * @throws {CorruptContentError} when a frame is truncated or damaged
 * @throws {ContentTooLargeError} when the output would exceed `maxBytes`
 */
export async function* decodeLz4FrameBlocks(
  body: Uint8Array,
  maxBytes: number,
  options: Lz4DecodeOptions = {},
): AsyncGenerator<Uint8Array> {
  if (body.length < 4 || readU32(body, 0) !== LZ4_FRAME_MAGIC) {
    throw new ContentUnreadableError(
      'body is not an lz4 frame (bad magic: encrypted or another format)',
      'unrecognised-format',
    );
  }
  const cursor: Cursor = {
    at: 0,
    total: 0,
    maxBytes,
    native: options.native === false ? undefined : (await loadNativeLz4()).lz4,
  };
  while (cursor.at < body.length) {
    const magic = readU32(body, cursor.at);
    if (magic === LZ4_FRAME_MAGIC) {
      yield* decodeFrame(body, cursor);
    } else if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      cursor.at += 8 + readU32(body, cursor.at + 4);
      if (cursor.at > body.length) throw new CorruptContentError('lz4 skippable frame is truncated');
    } else {
      throw new CorruptContentError(`unexpected bytes after an lz4 frame at offset ${cursor.at}`);
    }
  }
}

/**
 * Decodes a body of one or more LZ4 frames into one buffer; see {@link decodeLz4FrameBlocks}.
 *
 * @throws {ContentUnreadableError} for a body that is not LZ4 frames
 * @throws {CorruptContentError} when a frame is truncated or damaged
 * @throws {ContentTooLargeError} when the output would exceed `maxBytes`
 */
export async function decodeLz4Frames(
  body: Uint8Array,
  maxBytes: number,
  options: Lz4DecodeOptions = {},
): Promise<Uint8Array> {
  const out = new CappedOutput(maxBytes, body.length * 3);
  for await (const block of decodeLz4FrameBlocks(body, maxBytes, options)) out.append(block);
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
