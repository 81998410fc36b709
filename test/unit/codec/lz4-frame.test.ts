import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ContentTooLargeError,
  ContentUnreadableError,
  CorruptContentError,
} from '../../../shared/codec/errors.js';
import { decodeLz4Frames } from '../../../shared/codec/lz4-frame.js';
import { loadNativeLz4 } from '../../../shared/codec/lz4-native.js';
import { computeXxh32, Xxh32Stream } from '../../../shared/codec/xxh32.js';

/** Platforms `lz4-napi` and `@node-rs/xxhash` ship binaries for, among those walwatch runs on. */
const SHIPPED = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'].includes(
  `${process.platform}-${process.arch}`,
);

function lz4(input: Uint8Array, flags: string[] = []): Uint8Array {
  return new Uint8Array(execFileSync('lz4', ['-c', '-q', ...flags], { input, maxBuffer: 64 * 1024 * 1024 }));
}

/** Half noise, half repeats, from a fixed seed: blocks with literals, short and long matches. */
function makeSample(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed;
  for (let at = 0; at < size; at++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    bytes[at] = (at >> 12) % 2 === 0 ? state >>> 24 : (at * 7) & 0x1f;
  }
  return bytes;
}

const sample = makeSample(5 * 1024 * 1024 + 321, 5);
const FRAMES: ReadonlyArray<[string, string[]]> = [
  ['independent 4 MiB blocks, content checksum', []],
  ['linked 64 KiB blocks, block checksums, content size', ['-BD', '-B4', '-BX', '--content-size']],
  ['linked 256 KiB blocks, no content checksum, level 9', ['-BD', '-B5', '--no-frame-crc', '-9']],
  ['independent 1 MiB blocks, level 1', ['-B6', '-1']],
];
const DECODERS = [
  ['native', { native: true }],
  ['JavaScript', { native: false }],
] as const;

async function outcomeOf(promise: Promise<Uint8Array>): Promise<string> {
  try {
    return `bytes ${computeXxh32(await promise)}`;
  } catch (error) {
    if (error instanceof CorruptContentError) return 'corrupt';
    if (error instanceof ContentTooLargeError) return 'too large';
    if (error instanceof ContentUnreadableError) return 'unreadable';
    throw error;
  }
}

describe('loadNativeLz4', () => {
  it('loads the native blocks where the packages ship binaries, and says which decoder is used', async () => {
    const { lz4: native, description } = await loadNativeLz4();
    if (SHIPPED) expect(native).toBeDefined();
    expect(description).toMatch(native ? /^native/ : /^JavaScript/);
  });
});

describe.each(DECODERS)('decodeLz4Frames with %s blocks', (_name, options) => {
  it.each(FRAMES)('returns the original bytes of a frame with %s', async (_frame, flags) => {
    const decoded = await decodeLz4Frames(lz4(sample, flags), 2 ** 30, options);
    expect(Buffer.from(decoded).equals(Buffer.from(sample))).toBe(true);
  });

  it('throws CorruptContentError when a linked block copies from before its frame', async () => {
    const first = lz4(sample.subarray(0, 100_000), ['-BD', '-B4']);
    const second = lz4(sample.subarray(100_000, 300_000), ['-BD', '-B4']);
    // The second frame decodes after the first's output; its matches still may not reach into it.
    const joined = Buffer.concat([first, second]);
    expect(Buffer.from(await decodeLz4Frames(joined, 2 ** 30, options)).length).toBe(300_000);
    const frame = Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x40, 0x40, 0xc0]);
    const block = Uint8Array.from([6, 0, 0, 0, 0x10, 0x41, 0x05, 0x00, 0x10, 0x42, 0, 0, 0, 0]);
    const reaching = Buffer.concat([first, frame, block]);
    await expect(decodeLz4Frames(reaching, 2 ** 30, options)).rejects.toThrow(CorruptContentError);
  });

  it('throws CorruptContentError when a block expands past the frame block maximum', async () => {
    // 64 KiB blocks; one block of 70,000 zeros: a literal, then a match of 69,999 bytes at offset 1.
    const length = 69_999 - 4 - 15;
    const extra = [...Array(Math.floor(length / 255)).fill(255), length % 255];
    const blockBytes = [0x1f, 0x00, 0x01, 0x00, ...extra, 0x00];
    const frame = [0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82];
    const size = [blockBytes.length & 0xff, blockBytes.length >> 8, 0, 0];
    const body = Uint8Array.from([...frame, ...size, ...blockBytes, 0, 0, 0, 0]);
    await expect(decodeLz4Frames(body, 2 ** 30, options)).rejects.toThrow(CorruptContentError);
    await expect(decodeLz4Frames(body, 2 ** 30, options)).rejects.toThrow(/expands past|output is too small/);
  });
});

describe('decodeLz4Frames with native and JavaScript blocks', () => {
  it('gives the same bytes or the same error class, whatever bytes of a frame are damaged', async () => {
    const small = makeSample(300_000, 9);
    const bodies = FRAMES.map(([, flags]) => lz4(small, flags));
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: bodies.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        async (which, flips) => {
          const body = (bodies[which] as Uint8Array).slice();
          for (const [at, mask] of flips) body[at % body.length] = (body[at % body.length] as number) ^ mask;
          const native = await outcomeOf(decodeLz4Frames(body, 1024 * 1024, { native: true }));
          const js = await outcomeOf(decodeLz4Frames(body, 1024 * 1024, { native: false }));
          expect(native).toBe(js);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Xxh32Stream', () => {
  it('gives computeXxh32 of the joined bytes, however they are split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat({ max: 200 })), (bytes, cuts) => {
        const stream = new Xxh32Stream();
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          stream.update(bytes.subarray(at, Math.max(at, Math.min(cut, bytes.length))));
          at = Math.max(at, Math.min(cut, bytes.length));
        }
        stream.update(bytes.subarray(at));
        expect(stream.digest()).toBe(computeXxh32(bytes));
      }),
    );
  });
});
