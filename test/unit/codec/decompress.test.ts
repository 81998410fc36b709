import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CompressionMethod,
  ContentTooLargeError,
  ContentUnreadableError,
  CorruptContentError,
  decompress,
  decompressChunks,
  decompressHead,
} from '../../../shared/codec/decompress.js';

/** Runs a Debian compression CLI on `input` (stdin → stdout), the way archive objects are really made. */
function compressWith(command: string, args: string[], input: Uint8Array): Uint8Array {
  return new Uint8Array(execFileSync(command, args, { input, maxBuffer: 256 * 1024 * 1024 }));
}

const TOOLS: Record<Exclude<CompressionMethod, 'lzo' | 'none'>, [string, string[]]> = {
  lz4: ['lz4', ['-c', '-q']],
  lzma: ['xz', ['--format=lzma', '-c']],
  zstd: ['zstd', ['-c', '-q']],
  gzip: ['gzip', ['-c']],
  // Quality 6 rather than 11 keeps the suite fast; the decoder does not care.
  brotli: ['brotli', ['-c', '-q', '6']],
};
const METHODS = Object.keys(TOOLS) as (keyof typeof TOOLS)[];

const made = new WeakMap<Uint8Array, Map<string, Uint8Array>>();

/** Compresses with the method's CLI; each (input, method, flags) is made once per run. */
function compress(method: keyof typeof TOOLS, input: Uint8Array, extra: string[] = []): Uint8Array {
  const [command, args] = TOOLS[method];
  const bodies = made.get(input) ?? new Map<string, Uint8Array>();
  made.set(input, bodies);
  const key = `${method} ${extra.join(' ')}`;
  let body = bodies.get(key);
  if (body === undefined) {
    body = compressWith(command, [...args, ...extra], input);
    bodies.set(key, body);
  }
  return body;
}

/** WAL-like bytes: runs of zeros, repeated structures and incompressible noise, from a fixed seed. */
function makeSample(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  const next = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state >>> 16;
  };
  for (let at = 0; at < size; at += 8192) {
    const kind = next() % 3;
    const end = Math.min(size, at + 8192);
    for (let i = at; i < end; i++) {
      if (kind === 0) bytes[i] = next() & 0xff;
      else if (kind === 1) bytes[i] = (i * 31) & 0xff;
      // kind 2 stays zero, like the unused tail of a WAL page
    }
  }
  return bytes;
}

/** Incompressible bytes from a fixed seed, like ciphertext. */
function makeNoise(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

const sample = makeSample(3 * 1024 * 1024 + 123);

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('decompress', () => {
  it.each(METHODS)('returns the original bytes of a body written by the %s command line', async (method) => {
    const body = compress(method, sample);
    expect(Buffer.from(await decompress(body, method)).equals(Buffer.from(sample))).toBe(true);
  });

  it.each([
    ['block checksums and 64 KiB blocks', ['-BX', '-B4']],
    ['linked blocks and a content size', ['-BD', '--content-size']],
    ['no content checksum, high compression', ['--no-frame-crc', '-9']],
  ])('returns the original bytes of an lz4 frame with %s', async (_name, flags) => {
    const body = compress('lz4', sample, flags);
    expect(Buffer.from(await decompress(body, 'lz4')).equals(Buffer.from(sample))).toBe(true);
  });

  it.each([['-0'], ['-9e']])(
    'returns the original bytes of an lzma stream made with xz %s',
    async (preset) => {
      const body = compress('lzma', sample, [preset]);
      expect(Buffer.from(await decompress(body, 'lzma')).equals(Buffer.from(sample))).toBe(true);
    },
  );

  it('returns the original bytes of two concatenated lz4 frames', async () => {
    const half = sample.length >> 1;
    const body = Buffer.concat([
      compress('lz4', sample.subarray(0, half)),
      compress('lz4', sample.subarray(half)),
    ]);
    expect(Buffer.from(await decompress(body, 'lz4')).equals(Buffer.from(sample))).toBe(true);
  });

  it.each(METHODS)('returns empty bytes for an empty file compressed with %s', async (method) => {
    expect((await decompress(compress(method, new Uint8Array(0)), method)).length).toBe(0);
  });

  it('returns the body itself for none', async () => {
    expect(await decompress(sample, 'none')).toBe(sample);
  });

  it.each(METHODS)('throws CorruptContentError when a %s body is truncated', async (method) => {
    const body = compress(method, sample);
    for (const keep of [Math.floor(body.length / 2), body.length - 1]) {
      const error = await failureOf(decompress(body.subarray(0, keep), method));
      expect(error).toBeInstanceOf(CorruptContentError);
    }
  });

  it.each(['lz4', 'gzip'] as const)(
    'throws CorruptContentError when a byte of a %s body flips',
    async (method) => {
      const body = compress(method, sample);
      const damaged = body.slice();
      const at = Math.floor(body.length / 2);
      damaged[at] = (damaged[at] as number) ^ 0x55;
      expect(await failureOf(decompress(damaged, method))).toBeInstanceOf(CorruptContentError);
    },
  );

  it.each(['lz4', 'lzma', 'zstd', 'gzip'] as const)(
    'throws ContentUnreadableError when a %s body is encrypted or garbage',
    async (method) => {
      // A libsodium secretstream body starts with a random 24-byte header; OpenPGP with a packet tag (0x85…).
      const random = makeNoise(4096, 99);
      for (const body of [random, Uint8Array.from([0x85, 0x02, 0x0c, 0x03, ...random.subarray(0, 500)])]) {
        const error = await failureOf(decompress(body, method));
        expect(error).toBeInstanceOf(ContentUnreadableError);
        expect((error as ContentUnreadableError).reason).toBe('unrecognised-format');
      }
    },
  );

  it('throws ContentUnreadableError for WAL-E lzop bodies and for garbage named .lzo', async () => {
    const lzop = Uint8Array.from([0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0x10, 0x30]);
    for (const body of [lzop, makeNoise(1000, 3)]) {
      const error = await failureOf(decompress(body, 'lzo'));
      expect(error).toBeInstanceOf(ContentUnreadableError);
      expect((error as ContentUnreadableError).reason).toBe('unsupported-method');
    }
  });

  it('throws ContentUnreadableError for an unknown method', async () => {
    const error = await failureOf(decompress(sample, 'bzip2' as CompressionMethod));
    expect(error).toBeInstanceOf(ContentUnreadableError);
  });

  it.each([...METHODS, 'none' as const])(
    'throws ContentTooLargeError when %s output passes maxBytes',
    async (method) => {
      const zeros = new Uint8Array(2 * 1024 * 1024);
      const body = method === 'none' ? zeros : compress(method, zeros);
      const error = await failureOf(decompress(body, method, { maxBytes: 1024 * 1024 }));
      expect(error).toBeInstanceOf(ContentTooLargeError);
      expect((error as ContentTooLargeError).maxBytes).toBe(1024 * 1024);
    },
  );

  it.each(['lz4', 'zstd', 'gzip'] as const)(
    'throws ContentTooLargeError by default for a %s bomb just over 64 MiB',
    async (method) => {
      const body = compress(method, new Uint8Array(64 * 1024 * 1024 + 1));
      expect(body.length).toBeLessThan(1024 * 1024);
      expect(await failureOf(decompress(body, method))).toBeInstanceOf(ContentTooLargeError);
    },
  );

  it('throws only codec errors, whatever bytes of a body are damaged', async () => {
    const small = makeSample(40_000, 11);
    const bodies = Object.fromEntries(METHODS.map((method) => [method, compress(method, small)]));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat()),
        async (method, flips, cut) => {
          const body = (bodies[method] as Uint8Array).slice();
          for (const [at, mask] of flips) body[at % body.length] = (body[at % body.length] as number) ^ mask;
          const input = cut === null ? body : body.subarray(0, cut % body.length);
          try {
            const output = await decompress(input, method, { maxBytes: 1024 * 1024 });
            expect(output.length).toBeLessThanOrEqual(1024 * 1024);
          } catch (error) {
            const known = [CorruptContentError, ContentUnreadableError, ContentTooLargeError];
            expect(known.some((type) => error instanceof type)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

async function collect(pieces: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; count: number }> {
  const chunks: Uint8Array[] = [];
  for await (const piece of pieces) chunks.push(piece);
  return { bytes: Buffer.concat(chunks), count: chunks.length };
}

describe('decompressChunks', () => {
  const large = makeSample(9 * 1024 * 1024 + 5, 13);

  it.each(METHODS)('yields pieces that join into the original bytes of a %s body', async (method) => {
    const { bytes } = await collect(decompressChunks(compress(method, large), method, { maxBytes: 2 ** 30 }));
    expect(bytes.equals(Buffer.from(large))).toBe(true);
  });

  it.each([
    ['independent 4 MiB blocks', []],
    ['linked 64 KiB blocks with block checksums and a content size', ['-BD', '-B4', '-BX', '--content-size']],
  ])('yields an lz4 body with %s a block at a time, in order', async (_name, flags) => {
    const body = compress('lz4', large, flags);
    const { bytes, count } = await collect(decompressChunks(body, 'lz4', { maxBytes: 2 ** 30 }));
    expect(bytes.equals(Buffer.from(large))).toBe(true);
    expect(count).toBeGreaterThan(2);
  });

  it('yields the body itself in slices for none', async () => {
    const { bytes } = await collect(decompressChunks(large, 'none'));
    expect(bytes.equals(Buffer.from(large))).toBe(true);
  });

  it.each(METHODS)('throws ContentTooLargeError when %s output passes maxBytes', async (method) => {
    const body = compress(method, new Uint8Array(2 * 1024 * 1024));
    const error = await failureOf(collect(decompressChunks(body, method, { maxBytes: 1024 * 1024 })));
    expect(error).toBeInstanceOf(ContentTooLargeError);
  });

  it.each(METHODS)('throws CorruptContentError when a %s body is truncated', async (method) => {
    const body = compress(method, large);
    const error = await failureOf(collect(decompressChunks(body.subarray(0, body.length - 1), method)));
    expect(error).toBeInstanceOf(CorruptContentError);
  });

  it('throws CorruptContentError when a linked lz4 block points before the start of its frame', async () => {
    // Frame: FLG 0x40 (version 1, linked blocks, no checksums), BD 0x40 (64 KiB), header checksum 0xC0;
    // one block: literal 'A', then a match 5 bytes back where only 1 byte exists.
    const block = [0x10, 0x41, 0x05, 0x00, 0x10, 0x42];
    const body = Uint8Array.from([
      0x04,
      0x22,
      0x4d,
      0x18,
      0x40,
      0x40,
      0xc0,
      block.length,
      0,
      0,
      0,
      ...block,
      0,
      0,
      0,
      0,
    ]);
    const error = await failureOf(collect(decompressChunks(body, 'lz4')));
    expect(error).toBeInstanceOf(CorruptContentError);
    expect((error as Error).message).toContain('lz4 block is damaged');
  });
});

describe('decompressHead', () => {
  const sample = makeSample(4 * 1024 * 1024, 11);
  const lz4Blocks: Array<[string, string[]]> = [
    ['64 KiB blocks', ['-B4']],
    ['4 MiB blocks with block checksums', ['-B7', '--content-size', '-BX']],
    ['4 MiB linked blocks', ['-B7', '-BD']],
  ];

  it.each(METHODS.filter((method) => method !== 'lzma'))(
    'decodes the first bytes of a %s body from a short prefix of it',
    async (method) => {
      const body = compress(method, sample);
      for (const prefix of [64, 1024, 16 * 1024]) {
        const head = await decompressHead(body.subarray(0, prefix), method, 40, false);
        // A prefix either holds the first bytes, exactly, or too little of the stream to tell any.
        expect(sample.subarray(0, head.length)).toEqual(head);
      }
      // zstd decodes whole blocks (up to 128 KiB of output): a prefix holding the first one is enough.
      expect(await decompressHead(body.subarray(0, 256 * 1024), method, 40, false)).toEqual(
        sample.subarray(0, 40),
      );
    },
  );

  it.each(lz4Blocks)('decodes the head of an lz4 body with %s', async (_, flags) => {
    const body = compress('lz4', sample, flags);
    for (const want of [40, 8192, 100_000]) {
      const head = await decompressHead(body.subarray(0, 64 * 1024), 'lz4', want, false);
      expect(head.length).toBeGreaterThan(0);
      expect(head).toEqual(sample.subarray(0, head.length));
    }
    expect(await decompressHead(body, 'lz4', 40, true)).toEqual(sample.subarray(0, 40));
  });

  it('decodes an lzma body only when it is whole', async () => {
    const body = compress('lzma', sample);
    expect((await decompressHead(body.subarray(0, 1024), 'lzma', 40, false)).length).toBe(0);
    expect(await decompressHead(body, 'lzma', 40, true)).toEqual(sample.subarray(0, 40));
  });

  it('returns an uncompressed body as it is, cut to the bytes wanted', async () => {
    expect(await decompressHead(sample, 'none', 40, false)).toEqual(sample.subarray(0, 40));
  });

  it('rejects a body that is not of its method, as decompress does', async () => {
    const lz4 = compress('lz4', sample);
    await expect(decompressHead(lz4, 'zstd', 40, false)).rejects.toBeInstanceOf(ContentUnreadableError);
    await expect(decompressHead(compress('zstd', sample), 'lz4', 40, false)).rejects.toBeInstanceOf(
      ContentUnreadableError,
    );
    const damaged = Uint8Array.from(lz4);
    // The first token's match offset, pointed before the data.
    damaged.fill(0xff, 11, 40);
    await expect(decompressHead(damaged, 'lz4', 4096, false)).rejects.toBeInstanceOf(CorruptContentError);
  });
});
