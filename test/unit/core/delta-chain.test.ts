import { describe, expect, it } from 'vitest';
import {
  type ChainLink,
  type ChainSentinel,
  parseChainSentinel,
  parseFilesMetadata,
  planChainRestore,
} from '../../../shared/core/delta-chain.js';
import { PAGE_SIZE, parseIncrement } from '../../../shared/core/walg-increment.js';

/** A "wi1" increment: header, file size, block numbers, then one page per block filled with its number. */
function increment(fileSize: number, blocks: number[], options: { magic?: number[]; extra?: number } = {}) {
  const head = Buffer.alloc(16 + 4 * blocks.length);
  head.set(options.magic ?? [0x77, 0x69, 0x31, 0x55], 0);
  head.writeBigUInt64LE(BigInt(fileSize), 4);
  head.writeUInt32LE(blocks.length, 12);
  blocks.forEach((block, i) => {
    head.writeUInt32LE(block, 16 + 4 * i);
  });
  return Buffer.concat([
    head,
    ...blocks.map((block) => Buffer.alloc(PAGE_SIZE, block)),
    Buffer.alloc(options.extra ?? 0),
  ]);
}

describe('parseIncrement', () => {
  it('reads the size, the blocks and each page', () => {
    const parsed = parseIncrement(increment(4 * PAGE_SIZE, [0, 3]));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.fileSize).toBe(4 * PAGE_SIZE);
    expect(parsed.value.blocks).toEqual([0, 3]);
    expect(Buffer.from(parsed.value.page(1)).equals(Buffer.alloc(PAGE_SIZE, 3))).toBe(true);
  });

  it('reads an increment of no pages (a file that only shrank)', () => {
    expect(parseIncrement(increment(PAGE_SIZE, []))).toMatchObject({
      ok: true,
      value: { fileSize: PAGE_SIZE },
    });
  });

  it.each([
    [
      'a bad magic',
      increment(PAGE_SIZE, [0], { magic: [0x77, 0x69, 0x31, 0x00] }),
      'invalid increment file header',
    ],
    [
      'another version',
      increment(PAGE_SIZE, [0], { magic: [0x77, 0x69, 0x32, 0x55] }),
      'unknown increment format version "2"',
    ],
    ['a short header', Buffer.from([0x77, 0x69, 0x31, 0x55, 0]), 'shorter than the 16-byte header'],
    ['a size of part of a page', increment(PAGE_SIZE + 1, []), 'not a whole number of 8192-byte pages'],
    ['a block past the end', increment(2 * PAGE_SIZE, [2]), 'block 2 lies past the end of a file of 2 pages'],
    ['blocks out of order', increment(4 * PAGE_SIZE, [2, 1]), 'block 1 follows block 2'],
    ['a repeated block', increment(4 * PAGE_SIZE, [1, 1]), 'block 1 follows block 1'],
    ['bytes after the last page', increment(PAGE_SIZE, [0], { extra: 1 }), 'where a header of 1 pages makes'],
    ['a truncated page', increment(PAGE_SIZE, [0]).subarray(0, 100), 'where a header of 1 pages makes'],
    ['more pages than the file', increment(PAGE_SIZE, [0, 1]), '2 pages for a file of 1 pages'],
  ])('refuses %s', (_, bytes, error) => {
    const parsed = parseIncrement(bytes);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });
});

describe('parseChainSentinel and parseFilesMetadata', () => {
  it('reads the delta fields, the old DeltaFromLSN and exact system identifiers', () => {
    const parsed = parseChainSentinel(
      '{"LSN":50331688,"DeltaFromLSN":33554472,"DeltaFrom":"base_000000010000000000000002","DeltaFullName":"base_000000010000000000000002","DeltaCount":1,"SystemIdentifier":7507672962298572862}',
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        startLsn: '50331688',
        deltaFrom: 'base_000000010000000000000002',
        deltaLsn: '33554472',
        deltaFullName: 'base_000000010000000000000002',
        deltaCount: 1,
        filesMetadataDisabled: false,
        systemIdentifier: '7507672962298572862',
        files: null,
      },
    });
  });

  it('keys files by their path in the data directory', () => {
    const parsed = parseFilesMetadata(
      '{"Files":{"/base/1/1259":{"IsIncremented":true,"IsSkipped":false,"MTime":"2026-12-03T10:00:00Z"},"/PG_VERSION":{"IsIncremented":false,"IsSkipped":true}}}',
    );
    expect(parsed.ok && [...parsed.value]).toEqual([
      ['base/1/1259', { isIncremented: true, isSkipped: false }],
      ['PG_VERSION', { isIncremented: false, isSkipped: true }],
    ]);
  });

  it('refuses a file both incremented and skipped', () => {
    expect(parseFilesMetadata('{"Files":{"/a":{"IsIncremented":true,"IsSkipped":true}}}')).toMatchObject({
      ok: false,
    });
  });
});

const FULL = 'base_000000010000000000000002';
const D1 = 'base_000000010000000000000004_D_000000010000000000000002';
const D2 = 'base_000000010000000000000006_D_000000010000000000000004';

function sentinel(startLsn: string, delta?: { from: string; lsn: string; count: number }): ChainSentinel {
  return {
    startLsn,
    deltaFrom: delta?.from ?? null,
    deltaLsn: delta?.lsn ?? null,
    deltaFullName: delta ? FULL : null,
    deltaCount: delta?.count ?? null,
    filesMetadataDisabled: false,
    systemIdentifier: '7',
    files: null,
  };
}

type Flags = 'i' | 's' | 'w';
function files(entries: Record<string, Flags>) {
  return new Map(
    Object.entries(entries).map(([path, flag]) => [
      path,
      { isIncremented: flag === 'i', isSkipped: flag === 's' },
    ]),
  );
}

describe('planChainRestore', () => {
  const full: ChainLink = { name: FULL, sentinel: sentinel('100'), files: null };
  const d1: ChainLink = {
    name: D1,
    sentinel: sentinel('200', { from: FULL, lsn: '100', count: 1 }),
    files: files({ 'base/5/1': 'i', 'base/5/2': 's', 'base/5/3': 'w', PG_VERSION: 's' }),
  };
  const d2: ChainLink = {
    name: D2,
    sentinel: sentinel('300', { from: D1, lsn: '200', count: 2 }),
    files: files({ 'base/5/1': 'i', 'base/5/2': 's', 'base/5/3': 's', PG_VERSION: 's', 'base/5/4': 'w' }),
  };

  it('takes from each older backup only what the newer one skipped or incremented, oldest first', () => {
    const plan = planChainRestore([d2, d1, full]);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(
      plan.value.map((step) => ({
        backup: step.backup,
        files: [...step.files].sort(),
        increments: [...step.increments].sort(),
        expected: [...step.expected].sort(),
        labelFiles: step.labelFiles,
      })),
    ).toEqual([
      // base/5/3 came whole in d1: the full backup's copy is not taken; nor is anything d2 lacks.
      {
        backup: FULL,
        files: ['PG_VERSION', 'base/5/1', 'base/5/2'],
        increments: [],
        expected: ['PG_VERSION', 'base/5/1', 'base/5/2'],
        labelFiles: false,
      },
      {
        backup: D1,
        files: ['PG_VERSION', 'base/5/1', 'base/5/2', 'base/5/3'],
        increments: ['base/5/1'],
        expected: ['base/5/1', 'base/5/3'],
        labelFiles: false,
      },
      {
        backup: D2,
        files: ['PG_VERSION', 'base/5/1', 'base/5/2', 'base/5/3', 'base/5/4'],
        increments: ['base/5/1'],
        expected: ['base/5/1', 'base/5/4'],
        labelFiles: true,
      },
    ]);
  });

  it.each([
    [
      'a DeltaLSN that is not the parent start',
      [{ ...d1, sentinel: { ...d1.sentinel, deltaLsn: '99' } }, full],
      'was taken as a delta from LSN 99, but',
    ],
    ['a parent that is not DeltaFrom', [d2, full], `is a delta of ${D1}, not of ${FULL}`],
    ['a chain that ends in a delta', [d2, d1], `the chain ends at ${D1}, a delta of ${FULL}`],
    [
      'another cluster',
      [d1, { ...full, sentinel: { ...full.sentinel, systemIdentifier: '8' } }],
      'different clusters',
    ],
    ['no DeltaCount', [{ ...d1, sentinel: { ...d1.sentinel, deltaCount: null } }, full], 'lacks DeltaCount'],
    [
      'a file the parent does not list',
      [d2, { ...d1, files: files({ 'base/5/1': 'i' }) }, full],
      `${D2} takes base/5/2 from ${D1}, whose files metadata does not list it`,
    ],
  ])('finds the chain broken with %s', (_, links, error) => {
    const plan = planChainRestore(links as ChainLink[]);
    expect(plan).toMatchObject({ ok: false, kind: 'broken' });
    if (!plan.ok) expect(plan.error).toContain(error);
  });

  it.each([
    ['no files metadata', [{ ...d1, files: null }, full], 'has no files metadata'],
    [
      'OrioleDB increments',
      [{ ...d1, files: files({ 'orioledb_data/1': 'i' }) }, full],
      'OrioleDB increments',
    ],
  ])('finds a delta with %s unsupported', (_, links, error) => {
    const plan = planChainRestore(links as ChainLink[]);
    expect(plan).toMatchObject({ ok: false, kind: 'unsupported' });
    if (!plan.ok) expect(plan.error).toContain(error);
  });
});
