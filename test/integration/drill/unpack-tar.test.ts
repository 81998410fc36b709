/**
 * `unpackTar` on tar partitions made by GNU tar and each compression command line WAL-G's codecs match:
 * the files come out byte for byte, members that would leave the data directory are refused, and damaged
 * bodies fail with an error that says which step failed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptContentError } from '../../../shared/codec/decompress.js';
import { UnpackError, unpackTar } from '../../../shared/drill/unpack-backup.js';

/** Compression command lines, with the key extension WAL-G gives their output. */
const COMPRESSORS: ReadonlyArray<[extension: string, command: string[] | null]> = [
  ['lz4', ['lz4', '-c', '-q']],
  ['lz4', ['lz4', '-c', '-q', '-BD', '-B4', '-BX']],
  ['zst', ['zstd', '-c', '-q']],
  ['br', ['brotli', '-c', '-q', '5']],
  ['gz', ['gzip', '-c']],
  ['lzma', ['xz', '--format=lzma', '-0', '-c']],
  ['', null],
];

let root: string;
let source: string;
let sourceTar: Buffer;

/** Bytes that compress a little, from a fixed seed: several LZ4 blocks for an 11 MiB file. */
function makeBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (let at = 0; at < size; at++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    bytes[at] = at % 4096 < 1024 ? state >>> 24 : at & 0x3f;
  }
  return bytes;
}

function compressWith(command: string[] | null, tar: Buffer): Buffer {
  if (command === null) return tar;
  const [program, ...args] = command as [string, ...string[]];
  return execFileSync(program, args, { input: tar, maxBuffer: 256 * 1024 * 1024 });
}

/** A tar of `members` (paths relative to `dir`), made by GNU tar with `extra` options. */
function makeTar(dir: string, members: string[], extra: string[] = []): Buffer {
  return execFileSync('tar', ['-c', '-f', '-', '-C', dir, ...extra, ...members], {
    maxBuffer: 256 * 1024 * 1024,
  });
}

async function unpackInto(name: string, extension: string, body: Buffer): Promise<string> {
  const target = join(root, `out-${name}`);
  await mkdir(target, { recursive: true });
  const key = `base/tar_partitions/part_001.tar${extension ? `.${extension}` : ''}`;
  await unpackTar({ key, name: 'part_001.tar' }, body, target);
  return target;
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'walwatch-unpack-'));
  source = join(root, 'source');
  await mkdir(join(source, 'base', '5'), { recursive: true });
  await mkdir(join(source, 'global'), { recursive: true });
  await writeFile(join(source, 'PG_VERSION'), '15\n');
  await writeFile(join(source, 'base', '5', '16396'), makeBytes(11 * 1024 * 1024 + 17, 1));
  await writeFile(join(source, 'base', '5', '16396_fsm'), makeBytes(24_576, 2));
  await writeFile(join(source, 'global', 'empty'), '');
  sourceTar = makeTar(source, ['.']);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('unpackTar', () => {
  it.each(COMPRESSORS.map(([extension, command], index) => [command?.join(' ') ?? 'none', extension, index]))(
    'restores every file of a tar compressed with %s',
    async (_name, extension, index) => {
      const command = COMPRESSORS[index as number]?.[1] ?? null;
      const body = compressWith(command, sourceTar);
      const target = await unpackInto(`ok-${index}`, extension as string, body);
      for (const file of ['PG_VERSION', 'base/5/16396', 'base/5/16396_fsm', 'global/empty']) {
        const restored = await readFile(join(target, file));
        expect(restored.equals(await readFile(join(source, file))), file).toBe(true);
      }
    },
  );

  it('returns the size of the tar it unpacked', async () => {
    const target = join(root, 'out-size');
    await mkdir(target);
    const body = compressWith(['lz4', '-c', '-q'], sourceTar);
    expect(await unpackTar({ key: 'part_001.tar.lz4', name: 'part_001.tar' }, body, target)).toBe(
      sourceTar.length,
    );
  });

  it('refuses a member whose path climbs out of the data directory', async () => {
    const dir = join(root, 'climb');
    await mkdir(dir);
    await writeFile(join(dir, 'escape'), 'outside\n');
    const tar = makeTar(dir, ['escape'], ['-P', '--transform=s,^escape,../escape,']);
    const error = await failureOf(unpackInto('climb', 'lz4', compressWith(['lz4', '-c', '-q'], tar)));
    expect(error).toBeInstanceOf(UnpackError);
    expect(error.message).toContain('part_001.tar cannot be unpacked');
    expect(existsSync(join(root, 'escape'))).toBe(false);
  });

  it('refuses to write through a symbolic link the tar itself made', async () => {
    const dir = join(root, 'through-link');
    await mkdir(join(dir, 'real'), { recursive: true });
    await writeFile(join(dir, 'real', 'file'), 'through the link\n');
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(dir, 'link'));
    const tar = makeTar(dir, ['link', 'real/file'], ['--transform=s,^real/file,link/file,']);
    const error = await failureOf(unpackInto('through-link', 'lz4', compressWith(['lz4', '-c', '-q'], tar)));
    expect(error).toBeInstanceOf(UnpackError);
    expect(error.message).toContain('cannot be unpacked');
    expect(existsSync(join(outside, 'file'))).toBe(false);
  });

  it.each([
    ['truncated', (body: Buffer) => body.subarray(0, body.length - 100)],
    [
      'damaged in the middle',
      (body: Buffer) => {
        const damaged = Buffer.from(body);
        damaged.fill(0x5a, body.length >> 1, (body.length >> 1) + 64);
        return damaged;
      },
    ],
  ])('fails with a decompression error when the lz4 body is %s', async (name, damage) => {
    const body = damage(compressWith(['lz4', '-c', '-q'], sourceTar));
    const error = await failureOf(unpackInto(`damaged-${name}`, 'lz4', body));
    expect(error).toBeInstanceOf(UnpackError);
    expect(error.message).toContain('part_001.tar cannot be decompressed');
    expect(error.cause).toBeInstanceOf(CorruptContentError);
  });

  it('fails with an unpack error when the decompressed bytes are not a tar', async () => {
    const notTar = makeBytes(64 * 1024, 3);
    const error = await failureOf(unpackInto('not-tar', 'lz4', compressWith(['lz4', '-c', '-q'], notTar)));
    expect(error).toBeInstanceOf(UnpackError);
    expect(error.message).toContain('part_001.tar cannot be unpacked');
  });

  it('fails with an unpack error when the tar ends inside a file', async () => {
    const cut = sourceTar.subarray(0, 5 * 1024 * 1024);
    const error = await failureOf(unpackInto('cut-tar', 'lz4', compressWith(['lz4', '-c', '-q'], cut)));
    expect(error).toBeInstanceOf(UnpackError);
    expect(error.message).toContain('part_001.tar cannot be unpacked');
  });
});
