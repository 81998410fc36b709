import { ContentTooLargeError } from './errors.js';

/**
 * A growable byte buffer that refuses to grow past a limit.
 *
 * Decoders append to it; the first write that would pass `maxBytes` throws {@link ContentTooLargeError},
 * so a decompression bomb costs at most `maxBytes` of memory.
 */
export class CappedOutput {
  /** The backing store; only `[0, length)` is meaningful. */
  bytes: Uint8Array;
  /** Bytes written so far. */
  length = 0;
  readonly maxBytes: number;

  constructor(maxBytes: number, sizeHint: number) {
    this.maxBytes = maxBytes;
    this.bytes = new Uint8Array(Math.max(1024, Math.min(maxBytes, sizeHint)));
  }

  /** Makes room for `extra` more bytes, or throws when that would pass the limit. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    if (needed > this.maxBytes) throw new ContentTooLargeError(this.maxBytes);
    const grown = new Uint8Array(Math.min(this.maxBytes, Math.max(needed, this.bytes.length * 2)));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  /** Appends a copy of `chunk`. */
  append(chunk: Uint8Array): void {
    this.reserve(chunk.length);
    this.bytes.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** The written bytes: a view of the store, not a copy. */
  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
