/**
 * Turns an archived WAL-G/WAL-E object body back into the file PostgreSQL archived.
 *
 * An adapter (it uses `node:zlib`), not part of the pure core. Facts: `../shared/reference/walg-layout.md`
 * §2.2–2.3: `.lz4` LZ4 frames (default), `.lzma` LZMA-alone, `.zst`, `.br`, `.gz`, `.lzo` (WAL-E's lzop),
 * none. Encryption (libsodium or OpenPGP) happens after compression and keeps the key, so an encrypted body
 * shows up as a body whose magic number is wrong for its extension: it is reported as unreadable.
 */
import { promisify } from 'node:util';
import { brotliDecompress, createBrotliDecompress, createGunzip, gunzip } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';
import type { Compression } from '../core/keys.js';
import { ContentTooLargeError, ContentUnreadableError, CorruptContentError } from './errors.js';
import { decodeLz4FrameBlocks, decodeLz4Frames, decodeLz4Head } from './lz4-frame.js';
import { decodeLzmaAlone } from './lzma.js';

export { ContentTooLargeError, ContentUnreadableError, CorruptContentError } from './errors.js';

/** Compression methods found on WAL-G/WAL-E archive objects. */
export type CompressionMethod = Compression;

/** Options for {@link decompress}. */
export interface DecompressOptions {
  /** Largest decompressed size accepted, in bytes. @default 64 MiB (the largest common segment size) */
  readonly maxBytes?: number;
}

/** Default limit: a 64 MiB segment is the largest Spilo/RDS-like clusters use; larger needs a caller's say. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliDecompress);
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;
const GZIP_MAGIC = [0x1f, 0x8b] as const;
const LZOP_MAGIC = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a] as const;
/** Feed zstd in slices so the size limit is checked while decoding, not after. */
const ZSTD_SLICE = 1 << 20;

function startsWith(body: Uint8Array, magic: readonly number[]): boolean {
  return body.length >= magic.length && magic.every((byte, i) => body[i] === byte);
}

function unrecognised(method: string): ContentUnreadableError {
  return new ContentUnreadableError(
    `body is not ${method} data (bad magic number: encrypted or another format)`,
    'unrecognised-format',
  );
}

/** Translates a zlib failure into one of the codec errors. */
function translateZlibError(error: unknown, method: string, maxBytes: number): Error {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return new ContentTooLargeError(maxBytes, { cause: error });
  return new CorruptContentError(`${method} body is damaged: ${(error as Error).message}`, { cause: error });
}

async function decompressZlib(
  body: Uint8Array,
  method: 'gzip' | 'brotli',
  maxBytes: number,
): Promise<Uint8Array> {
  try {
    const output =
      method === 'gzip'
        ? await gunzipAsync(body, { maxOutputLength: maxBytes })
        : await brotliAsync(body, { maxOutputLength: maxBytes });
    return new Uint8Array(output.buffer, output.byteOffset, output.byteLength);
  } catch (error) {
    throw translateZlibError(error, method, maxBytes);
  }
}

/** Decodes zstd a slice of input at a time, yielding what each slice produced. */
function* decodeZstdChunks(body: Uint8Array, maxBytes: number): Generator<Uint8Array> {
  if (!startsWith(body, ZSTD_MAGIC)) throw unrecognised('zstd');
  let chunks: Uint8Array[] = [];
  let total = 0;
  const stream = new ZstdStream((chunk) => {
    total += chunk.length;
    if (total > maxBytes) throw new ContentTooLargeError(maxBytes);
    chunks.push(chunk);
  });
  for (let at = 0; at < body.length; at += ZSTD_SLICE) {
    const end = Math.min(body.length, at + ZSTD_SLICE);
    try {
      stream.push(body.subarray(at, end), end === body.length);
    } catch (error) {
      if (error instanceof ContentTooLargeError) throw error;
      throw new CorruptContentError(`zstd body is damaged: ${(error as Error).message}`, { cause: error });
    }
    yield* chunks;
    chunks = [];
  }
}

function decompressZstd(body: Uint8Array, maxBytes: number): Uint8Array {
  const chunks = [...decodeZstdChunks(body, maxBytes)];
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const output = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    output.set(chunk, at);
    at += chunk.length;
  }
  return output;
}

/**
 * Decompresses an archive object body written with `method`.
 *
 * @param body - the object's bytes as stored
 * @param method - the method named by the key's extension (see `compressionMethodOfKey`)
 * @returns the original file's bytes
 * @throws {ContentUnreadableError} for `lzo` (WAL-E's lzop is not supported), an unknown method, or a body
 *   whose magic number does not match the method (typically an encrypted object)
 * @throws {CorruptContentError} when the body is truncated or fails a checksum
 * @throws {ContentTooLargeError} when the result would exceed `options.maxBytes`
 *
 * @example
 * const segment = await decompress(await readFile('000000010000000000000003.lz4'), 'lz4');
 */
export async function decompress(
  body: Uint8Array,
  method: CompressionMethod,
  options: DecompressOptions = {},
): Promise<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  switch (method) {
    case 'none':
      if (body.length > maxBytes) throw new ContentTooLargeError(maxBytes);
      return body;
    case 'lz4':
      return decodeLz4Frames(body, maxBytes);
    case 'lzma':
      return decodeLzmaAlone(body, maxBytes);
    case 'zstd':
      return decompressZstd(body, maxBytes);
    case 'gzip':
      if (!startsWith(body, GZIP_MAGIC)) throw unrecognised('gzip');
      return decompressZlib(body, 'gzip', maxBytes);
    case 'brotli':
      // Brotli has no magic number: an encrypted body surfaces as a damaged stream.
      return decompressZlib(body, 'brotli', maxBytes);
    case 'lzo':
      throw new ContentUnreadableError(
        startsWith(body, LZOP_MAGIC)
          ? 'lzop (WAL-E .lzo) bodies are not supported'
          : 'body of a .lzo object is neither lzop nor readable (likely encrypted); lzop is not supported anyway',
        'unsupported-method',
      );
    default:
      throw new ContentUnreadableError(
        `unknown compression method '${String(method)}'`,
        'unsupported-method',
      );
  }
}

/** Slices of an uncompressed body handed on at a time. */
const PLAIN_SLICE = 4 * 1024 * 1024;

/** Streams a zlib decoder's output (it runs on the thread pool), counting it against `maxBytes`. */
async function* decodeZlibChunks(
  body: Uint8Array,
  method: 'gzip' | 'brotli',
  maxBytes: number,
): AsyncGenerator<Uint8Array> {
  if (method === 'gzip' && !startsWith(body, GZIP_MAGIC)) throw unrecognised('gzip');
  const decoder = method === 'gzip' ? createGunzip() : createBrotliDecompress();
  decoder.end(body);
  let total = 0;
  try {
    for await (const chunk of decoder as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw new ContentTooLargeError(maxBytes);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof ContentTooLargeError) throw error;
    throw translateZlibError(error, method, maxBytes);
  } finally {
    decoder.destroy();
  }
}

/**
 * Decompresses an archive object body a piece at a time, for callers that pass the output on (a tar
 * unpack) and need not hold all of it: LZ4 block by block, decoded on the thread pool while the caller
 * works; gzip and brotli through zlib streams; zstd a slice of input at a time; LZMA at once.
 *
 * Same methods, errors and limit as {@link decompress}; an error can come after some pieces were yielded
 * (a checksum is checked at the end), so a consumer must treat it as the end of the data, not of a file.
 *
 * @example
 * for await (const piece of decompressChunks(body, 'lz4', { maxBytes: 2 ** 32 })) unpack.write(piece);
 */
export async function* decompressChunks(
  body: Uint8Array,
  method: CompressionMethod,
  options: DecompressOptions = {},
): AsyncGenerator<Uint8Array> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  switch (method) {
    case 'none':
      if (body.length > maxBytes) throw new ContentTooLargeError(maxBytes);
      for (let at = 0; at < body.length; at += PLAIN_SLICE) yield body.subarray(at, at + PLAIN_SLICE);
      return;
    case 'lz4':
      yield* decodeLz4FrameBlocks(body, maxBytes);
      return;
    case 'zstd':
      yield* decodeZstdChunks(body, maxBytes);
      return;
    case 'gzip':
    case 'brotli':
      yield* decodeZlibChunks(body, method, maxBytes);
      return;
    default:
      yield await decompress(body, method, options);
  }
}

/**
 * The first `want` bytes of the file an archive object holds, decoded from a prefix of its body (a ranged
 * read): only as much is decompressed as those bytes need. Returns fewer bytes when the prefix does not
 * hold them; the caller reads a longer prefix then. LZMA and lzop have no prefix decoder here: for them the
 * body must be whole (`complete`).
 *
 * @param complete - whether `body` is the whole object
 * @throws {ContentUnreadableError} as {@link decompress} does
 * @throws {CorruptContentError} when what the prefix holds is damaged
 *
 * @example
 * const head = await decompressHead(firstBytes, 'lz4', 40, false); // the long page header of a segment
 */
export async function decompressHead(
  body: Uint8Array,
  method: CompressionMethod,
  want: number,
  complete: boolean,
): Promise<Uint8Array> {
  switch (method) {
    case 'none':
      return body.subarray(0, want);
    case 'lz4':
      return decodeLz4Head(body, want);
    case 'zstd':
      return decompressZstdHead(body, want);
    case 'gzip':
      if (!startsWith(body, GZIP_MAGIC)) throw unrecognised('gzip');
      return decompressZlibHead(body, 'gzip', want);
    case 'brotli':
      return decompressZlibHead(body, 'brotli', want);
    default:
      if (!complete) return new Uint8Array();
      return (await decompress(body, method, { maxBytes: Math.max(want, DEFAULT_MAX_BYTES) })).subarray(
        0,
        want,
      );
  }
}

function decompressZstdHead(body: Uint8Array, want: number): Uint8Array {
  if (!startsWith(body, ZSTD_MAGIC)) throw unrecognised('zstd');
  const head = new Uint8Array(want);
  let length = 0;
  const stream = new ZstdStream((chunk) => {
    const take = Math.min(want - length, chunk.length);
    head.set(chunk.subarray(0, take), length);
    length += take;
  });
  try {
    for (let at = 0; at < body.length && length < want; at += ZSTD_SLICE) {
      stream.push(body.subarray(at, Math.min(body.length, at + ZSTD_SLICE)), false);
    }
  } catch (error) {
    throw new CorruptContentError(`zstd body is damaged: ${(error as Error).message}`, { cause: error });
  }
  return head.subarray(0, length);
}

/** Streams a gzip or brotli prefix through zlib and stops as soon as `want` bytes are out. */
function decompressZlibHead(body: Uint8Array, method: 'gzip' | 'brotli', want: number): Promise<Uint8Array> {
  const stream = method === 'gzip' ? createGunzip() : createBrotliDecompress();
  const head = new Uint8Array(want);
  let length = 0;
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      stream.removeAllListeners();
      stream.destroy();
      resolve(head.subarray(0, length));
    };
    stream.on('data', (chunk: Buffer) => {
      const take = Math.min(want - length, chunk.length);
      head.set(chunk.subarray(0, take), length);
      length += take;
      if (length >= want) finish();
    });
    stream.on('end', finish);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // A prefix ends mid-stream: zlib's "unexpected end of file" is the end of what it holds, not damage.
      if (error.code === 'Z_BUF_ERROR') return finish();
      stream.removeAllListeners();
      reject(translateZlibError(error, method, want));
    });
    stream.end(body);
  });
}
