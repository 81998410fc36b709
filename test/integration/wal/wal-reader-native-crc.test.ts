import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeCrc32c } from '../../../shared/codec/crc32c-native.js';
import { type Crc32cFunction, NATIVE_CRC32C_MIN_BYTES } from '../../../shared/core/wal/crc32c.js';
import type { SegmentContent } from '../../../shared/core/wal/segment-content.js';
import { type RecordInfo, readSegment, WalReader } from '../../../shared/core/wal/wal-reader.js';
import { dumpWal, hasPostgres, transactionEnds, WalCluster } from '../../support/wal-fixtures.js';

const native = loadNativeCrc32c().crc32c;

interface Segment {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** What one reading gives: a summary per segment and every record the reader accepted. */
interface Reading {
  readonly contents: SegmentContent[];
  readonly records: RecordInfo[];
}

/** Reads `segments` one after another with one reader, with or without the native CRC-32C. */
function readChained(segments: readonly Segment[], crc32c: Crc32cFunction | undefined): Reading {
  const records: RecordInfo[] = [];
  const reader = new WalReader({ collectTimedRecords: true, onRecord: (r) => records.push(r), crc32c });
  const contents = segments.map((s) => reader.readSegment(s.bytes, { fileName: s.name }));
  return { contents, records };
}

/** The native CRC-32C, counting the pieces it is handed. */
function counting(pieces: number[]): Crc32cFunction {
  const crc32c = native as Crc32cFunction;
  return (bytes, previous) => {
    pieces.push(bytes.length);
    return crc32c(bytes, previous);
  };
}

describe.skipIf(!hasPostgres() || native === undefined)('WalReader with the native CRC-32C', () => {
  let cluster: WalCluster;
  let segments: Segment[];
  /** The logical message that spans several 1 MiB segments, and the segments it touches. */
  let message: { lsn: bigint; totalLength: number };

  beforeAll(async () => {
    cluster = await WalCluster.start(1);
    // A bulk load (heap pages, index builds logged as full-page images), then small transactions after a
    // checkpoint (each first change of a page logs its image), then one record over three segments.
    cluster.pgbench(['-i', '-q', '-s', '1']);
    cluster.sql('CHECKPOINT;');
    cluster.pgbench(['-c', '2', '-j', '2', '-t', '300', '-n']);
    cluster.sql(`SELECT pg_logical_emit_message(false, 'walwatch', repeat('m', 2500000));`);
    cluster.sql('BEGIN; CREATE TABLE after_message (v int); INSERT INTO after_message VALUES (1); COMMIT;');
    await cluster.switchAndArchive();
    const names = (await cluster.archivedFiles()).filter((name) => /^[0-9A-F]{24}$/.test(name));
    segments = await Promise.all(
      names.map(async (name) => ({
        name,
        bytes: new Uint8Array(await readFile(join(cluster.archiveDir, name))),
      })),
    );
    const dump = dumpWal(names.map((name) => join(cluster.archiveDir, name))).records;
    const found = dump.find((r) => r.rmgr === 'LogicalMessage' && r.totalLength > 2_000_000);
    if (!found) throw new Error('no long logical message in the WAL');
    message = found;
  });

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('returns the same summaries and records as the tables alone over real WAL, chained', () => {
    const pieces: number[] = [];
    const tables = readChained(segments, undefined);
    const fast = readChained(segments, counting(pieces));
    expect(fast).toEqual(tables);
    expect(fast.contents.every((c) => c.error === undefined)).toBe(true);
    expect(fast.records.length).toBeGreaterThan(5000);
    // Block images went to the native code, and only pieces of at least the threshold did.
    expect(pieces.length).toBeGreaterThan(1000);
    expect(Math.min(...pieces)).toBeGreaterThanOrEqual(NATIVE_CRC32C_MIN_BYTES);
  });

  it('finds the last commit pg_waldump finds', () => {
    const dump = dumpWal(segments.map((s) => join(cluster.archiveDir, s.name))).records;
    const last = transactionEnds(dump)
      .filter((end) => end.kind === 'commit')
      .at(-1);
    const found = readChained(segments, native).contents.findLast((c) => c.lastCommit)?.lastCommit;
    expect(found?.lsn).toBe(last?.lsn);
    expect(found?.timeMicros).toBe(last?.unixMicros);
  });

  it('returns the same summary as the tables for every segment read alone', () => {
    for (const segment of segments) {
      const options = { fileName: segment.name, collectTimedRecords: true };
      expect(readSegment(segment.bytes, { ...options, crc32c: native })).toEqual(
        readSegment(segment.bytes, options),
      );
    }
  });

  it('checks a record carried over three segments and reports a changed byte in it the same way', () => {
    const size = 1024 * 1024;
    const first = Number(message.lsn / BigInt(size));
    const index = segments.findIndex((s) => parseInt(s.name.slice(16), 16) === first);
    // 2.5 MB over 1 MiB segments: three or four segments, depending on where in the first it starts.
    const run = segments.slice(index, index + 4);
    const clean = readChained(run, native).contents;
    // The second segment lies wholly inside the message: the record is carried into it and on out of it.
    expect(clean[0]?.incompleteRecord?.lsn).toBe(message.lsn);
    expect(clean[1]?.continuation).toBe('joined');
    expect(clean[1]?.recordCount).toBe(0);
    expect(clean[1]?.incompleteRecord?.lsn).toBe(message.lsn);
    const end = clean.findIndex(
      (c, i) => i >= 2 && c.continuation === 'joined' && c.incompleteRecord === undefined,
    );
    expect(end === 2 || end === 3).toBe(true);
    expect(clean.every((c) => c.error === undefined)).toBe(true);

    // A byte in the middle of the second segment, off its page header, belongs to the message's payload.
    const damaged = run.map((s, i) => (i === 1 ? { ...s, bytes: s.bytes.slice() } : s));
    const bytes = (damaged[1] as Segment).bytes;
    bytes[size / 2 + 1000] = (bytes[size / 2 + 1000] as number) ^ 0x10;
    const fast = readChained(damaged, native);
    expect(fast).toEqual(readChained(damaged, undefined));
    const failed = fast.contents.find((c) => c.error !== undefined);
    expect(failed?.error).toMatch(/fails its CRC-32C check/);
    expect(failed?.errorLsn).toBe(message.lsn);
  });

  it('returns the same summaries as the tables whatever bytes change, chained and alone', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: segments.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (index, changes) => {
          const previous = segments[index - 1] as Segment;
          const segment = segments[index] as Segment;
          const bytes = segment.bytes.slice();
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          const pair = [previous, { name: segment.name, bytes }];
          expect(readChained(pair, native)).toEqual(readChained(pair, undefined));
          const options = { fileName: segment.name, collectTimedRecords: true };
          expect(readSegment(bytes, { ...options, crc32c: native })).toEqual(readSegment(bytes, options));
        },
      ),
      { numRuns: 100 },
    );
  });
});
