import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimedRecord } from '../../../shared/core/wal/record-facts.js';
import type { SegmentContent } from '../../../shared/core/wal/segment-content.js';
import { type RecordInfo, readSegment, WalReader } from '../../../shared/core/wal/wal-reader.js';
import { parsePgLsn } from '../../support/postgres-wal.js';
import {
  type DumpedRecord,
  dumpWal,
  hasPostgres,
  parseWaldumpTime,
  transactionEnds,
  WalCluster,
} from '../../support/wal-fixtures.js';

/** One timeline's archived files, read back with pg_waldump from a folder where `.partial` lost its suffix. */
interface TimelineFiles {
  /** Archive file names in LSN order (a `.partial` last). */
  readonly names: string[];
  readonly bytes: Map<string, Uint8Array>;
  readonly dump: DumpedRecord[];
}

async function loadTimeline(cluster: WalCluster, timeline: number, scratch: string): Promise<TimelineFiles> {
  const prefix = timeline.toString(16).toUpperCase().padStart(8, '0');
  const names = (await cluster.archivedFiles()).filter(
    (name) => name.startsWith(prefix) && !name.includes('.history'),
  );
  const bytes = new Map<string, Uint8Array>();
  const dir = await mkdtemp(join(scratch, `tl${timeline}-`));
  for (const name of names) {
    bytes.set(name, new Uint8Array(await readFile(join(cluster.archiveDir, name))));
    await copyFile(join(cluster.archiveDir, name), join(dir, name.replace('.partial', '')));
  }
  const paths = names.map((name) => join(dir, name.replace('.partial', '')));
  return { names, bytes, dump: dumpWal(paths).records };
}

/** Reads files one after another with one reader, collecting every timed record. */
function readChained(files: TimelineFiles, onRecord?: (record: RecordInfo) => void): SegmentContent[] {
  const reader = new WalReader({ collectTimedRecords: true, ...(onRecord ? { onRecord } : {}) });
  return files.names.map((name) =>
    reader.readSegment(files.bytes.get(name) as Uint8Array, { fileName: name }),
  );
}

function segmentRange(content: SegmentContent): [bigint, bigint] {
  const start = content.startLsn as bigint;
  return [start, start + BigInt(content.segmentSize as number)];
}

/** Transaction ends as comparable tuples. */
function endsOf(records: readonly TimedRecord[] | undefined): string[] {
  return (records ?? [])
    .filter((record) => record.kind === 'commit' || record.kind === 'abort')
    .map(
      (record) =>
        `${record.kind} ${record.lsn.toString(16)} ${'xid' in record ? record.xid : ''} ${record.timeMicros}`,
    );
}

function expectedEnds(records: readonly DumpedRecord[]): string[] {
  return transactionEnds(records).map(
    (end) => `${end.kind} ${end.lsn.toString(16)} ${end.xid} ${end.unixMicros}`,
  );
}

const SEGMENT_1_MIB = 1024 * 1024;

describe.skipIf(!hasPostgres())('WalReader on WAL written by PostgreSQL 15', () => {
  let scratch: string;
  let small: WalCluster;
  let large: WalCluster;
  let timeline1: TimelineFiles;
  let timeline2: TimelineFiles;
  let large1: TimelineFiles;
  let checkpoint: { lsn: bigint; time: number };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'walwatch-wal-test-'));
    [small, large] = await Promise.all([
      WalCluster.start(1, { max_prepared_transactions: '5' }),
      WalCluster.start(64),
    ]);

    small.sql(`
      CREATE TABLE t (id int PRIMARY KEY, v text);
      INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;
      BEGIN; INSERT INTO t VALUES (-1, 'rolled back'); ROLLBACK;
      SELECT pg_create_restore_point('walwatch-test');
      CHECKPOINT;
      UPDATE t SET v = v || 'y' WHERE id % 10 = 0;
      SELECT pg_logical_emit_message(false, 'walwatch', repeat('m', 100000)) FROM generate_series(1, 12);
    `);
    for (let i = 0; i < 20; i++) small.sql(`INSERT INTO t VALUES (${10_000 + i}, 'one commit each');`);
    // A commit record of tens of kilobytes (a two-phase commit dropping 150 tables), placed so that it
    // starts a little before a segment boundary and ends in the next segment.
    small.sql(Array.from({ length: 150 }, (_, i) => `CREATE TABLE drop_me_${i} (v text);`).join('\n'));
    small.sql(
      `BEGIN; DROP TABLE ${Array.from({ length: 150 }, (_, i) => `drop_me_${i}`).join(', ')}; PREPARE TRANSACTION 'big';`,
    );
    small.fillSegmentUntil(1500);
    small.sql(`COMMIT PREPARED 'big';`);
    small.sql(`INSERT INTO t VALUES (20000, 'after the big commit');`);
    await small.switchAndArchive();
    small.sql(`INSERT INTO t VALUES (20001, 'in the segment that becomes .partial');`);
    await small.promoteToNewTimeline();
    small.sql(`INSERT INTO t VALUES (30000, 'timeline 2');`);
    small.sql('CHECKPOINT;');
    const control = small.controlData();
    checkpoint = {
      lsn: parsePgLsn(control['Latest checkpoint location'] as string),
      time: Date.parse(`${control['Time of latest checkpoint']} UTC`),
    };
    await small.switchAndArchive();
    await small.waitForArchived('00000002.history');

    large.sql(`
      CREATE TABLE t (id int, v text);
      INSERT INTO t SELECT g, repeat('z', 100) FROM generate_series(1, 500) g;
      SELECT pg_logical_emit_message(false, 'walwatch', repeat('m', 100000)) FROM generate_series(1, 3);
    `);
    for (let i = 0; i < 5; i++) large.sql(`INSERT INTO t VALUES (${i}, 'commit');`);
    await large.switchAndArchive();
    large.sql(`INSERT INTO t VALUES (99, 'second segment');`);
    await large.switchAndArchive();

    timeline1 = await loadTimeline(small, 1, scratch);
    timeline2 = await loadTimeline(small, 2, scratch);
    large1 = await loadTimeline(large, 1, scratch);
  });

  afterAll(async () => {
    await Promise.all([small?.destroy(), large?.destroy()]);
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * Where a record really ends, as PostgreSQL's reader computes `EndRecPtr` before alignment: a record
   * spanning pages skips the page header of every page it continues on (long at a segment start).
   */
  const recordEnd = (record: { lsn: bigint; totalLength: number }, segmentSize: number): bigint => {
    const page = 8192n;
    let at = record.lsn;
    let left = BigInt(record.totalLength);
    for (;;) {
      const room = (at / page + 1n) * page - at;
      if (left <= room) return at + left;
      left -= room;
      at += room;
      at += at % BigInt(segmentSize) === 0n ? 40n : 24n;
    }
  };

  describe('readSegment chained over a timeline', () => {
    it('returns every commit and abort pg_waldump finds, with the same LSN, xid and time', () => {
      for (const files of [timeline1, timeline2, large1]) {
        const contents = readChained(files);
        const found = contents.flatMap((content) => endsOf(content.timedRecords));
        expect(found.length).toBeGreaterThan(0);
        expect(found).toEqual(expectedEnds(files.dump));
      }
    });

    it('returns per segment the records pg_waldump shows ending in it', () => {
      for (const files of [timeline1, timeline2, large1]) {
        for (const content of readChained(files)) {
          const [start, end] = segmentRange(content);
          const ending = files.dump.filter(
            (r) => r.lsn + BigInt(r.totalLength) > start && r.lsn + BigInt(r.totalLength) <= end,
          );
          const last = ending[ending.length - 1];
          expect(content.error).toBeUndefined();
          expect(content.recordCount).toBe(ending.length);
          expect(content.recordBytes).toBe(ending.reduce((sum, r) => sum + r.totalLength, 0));
          expect(content.lastRecordLsn).toBe(last?.lsn);
          expect(content.endLsn).toBe(last && recordEnd(last, content.segmentSize as number));
          expect(content.firstRecordLsn).toBe(files.dump.find((r) => r.lsn >= start && r.lsn < end)?.lsn);
          const ends = transactionEnds(ending);
          const commits = ends.filter((e) => e.kind === 'commit');
          expect(content.commitCount).toBe(commits.length);
          expect(content.abortCount).toBe(ends.length - commits.length);
          expect(content.lastCommitLsn).toBe(commits[commits.length - 1]?.lsn);
          expect(content.lastCommitTimeMicros).toBe(commits[commits.length - 1]?.unixMicros);
          expect(content.firstCommit?.timeMicros).toBe(commits[0]?.unixMicros);
          expect(content.lastTransactionEnd?.lsn).toBe(ends[ends.length - 1]?.lsn);
          expect(content.endsWithSwitch).toBe(last?.rmgr === 'XLOG' && last.description.startsWith('SWITCH'));
        }
      }
    });

    it('joins a commit record that starts in one segment and ends in the next', () => {
      const crossing = transactionEnds(timeline1.dump).filter(
        (e) => e.lsn / BigInt(SEGMENT_1_MIB) !== (e.lsn + BigInt(e.totalLength) - 1n) / BigInt(SEGMENT_1_MIB),
      );
      expect(crossing.length).toBeGreaterThan(0);
      const contents = readChained(timeline1);
      for (const commit of crossing) {
        const holder = contents.find((c) => c.timedRecords?.some((r) => r.lsn === commit.lsn));
        expect(holder?.continuation).toBe('joined');
        expect(holder?.startLsn).toBe(
          ((commit.lsn + BigInt(commit.totalLength)) / BigInt(SEGMENT_1_MIB)) * BigInt(SEGMENT_1_MIB),
        );
      }
    });

    it('returns the restore point and the end-of-recovery record pg_waldump shows', () => {
      const points = readChained(timeline1).flatMap((content) => content.restorePoints);
      const dumped = timeline1.dump.filter((r) => r.description.startsWith('RESTORE_POINT'));
      expect(points.map((p) => [p.lsn, p.name])).toEqual(dumped.map((r) => [r.lsn, r.description.slice(14)]));

      const recovery = readChained(timeline2).find((content) => content.endOfRecovery)?.endOfRecovery;
      const line = timeline2.dump.find((r) => r.description.startsWith('END_OF_RECOVERY'));
      const match = /tli (\d+); prev tli (\d+); time (\S+ \S+?)(?:\.(\d+))? UTC/.exec(
        line?.description ?? '',
      );
      expect(match).not.toBeNull();
      expect(recovery?.lsn).toBe(line?.lsn);
      expect(recovery?.timeline).toBe(Number(match?.[1]));
      expect(recovery?.previousTimeline).toBe(Number(match?.[2]));
      expect(recovery?.timeMicros).toBe(parseWaldumpTime(match?.[3] as string, match?.[4]));
    });

    it('returns the checkpoint time pg_controldata reports', () => {
      const found = readChained(timeline2)
        .map((content) => content.lastCheckpoint)
        .find((c) => c?.lsn === checkpoint.lsn);
      expect(found?.timeMicros).toBe(BigInt(checkpoint.time) * 1000n);
    });

    it('returns the 64 MiB segment size and PostgreSQL 15 from the long page header', () => {
      for (const content of readChained(large1)) {
        expect(content.segmentSize).toBe(64 * 1024 * 1024);
        expect(content.postgresVersion).toBe(15);
        expect(content.pageMagic).toBe(0xd110);
        expect(content.end).toBe('switch');
      }
    });
  });

  describe('readSegment on single segments', () => {
    it('returns the commits whose records lie wholly inside the segment and flags the cut ones', () => {
      for (const files of [timeline1, timeline2, large1]) {
        for (const name of files.names) {
          const content = readSegment(files.bytes.get(name) as Uint8Array, {
            fileName: name,
            collectTimedRecords: true,
          });
          const [start, end] = segmentRange(content);
          const inside = files.dump.filter((r) => r.lsn >= start && r.lsn + BigInt(r.totalLength) <= end);
          expect(endsOf(content.timedRecords)).toEqual(expectedEnds(inside));
          const cut = files.dump.find((r) => r.lsn < end && r.lsn + BigInt(r.totalLength) > end);
          expect(content.incompleteRecord?.lsn).toBe(cut?.lsn);
          expect(content.incompleteRecord?.totalLength).toBe(cut?.totalLength);
          // pg_waldump starts at the first record of the first file, so it says nothing about what precedes.
          if (name !== files.names[0]) {
            const continued = files.dump.some((r) => r.lsn < start && r.lsn + BigInt(r.totalLength) > start);
            expect(content.continuation).toBe(continued ? 'skipped' : 'none');
          }
          expect(content.error).toBeUndefined();
        }
      }
    });

    it('returns end-of-wal for the .partial file of the old timeline, whose timeline and end pg_waldump agree on', () => {
      const partial = timeline1.names.find((name) => name.endsWith('.partial')) as string;
      const content = readSegment(timeline1.bytes.get(partial) as Uint8Array, { fileName: partial });
      const [start, end] = segmentRange(content);
      const last = timeline1.dump.filter((r) => r.lsn >= start && r.lsn < end).at(-1);
      expect(content.end).toBe('end-of-wal');
      expect(content.timeline).toBe(1);
      expect(content.endLsn).toBe(last && recordEnd(last, content.segmentSize as number));
      expect(content.error).toBeUndefined();
    });

    it('returns an error naming the file when the header belongs to another segment', () => {
      const [first, second] = timeline1.names;
      const content = readSegment(timeline1.bytes.get(first as string) as Uint8Array, { fileName: second });
      expect(content.end).toBe('invalid');
      expect(content.error).toMatch(/does not match its header/);
    });
  });

  describe('readSegment after a crash that lost the end of a record', () => {
    let crashed: WalCluster;
    let files: TimelineFiles;

    beforeAll(async () => {
      crashed = await WalCluster.start(1);
      crashed.sql('CREATE TABLE t (id int); INSERT INTO t VALUES (1);');
      crashed.fillSegmentUntil(3000);
      const lostFile = crashed.sql(
        `SELECT pg_logical_emit_message(true, 'walwatch', repeat('o', 20000));
         SELECT pg_walfile_name(pg_current_wal_insert_lsn());`,
      );
      await crashed.crashLosingWalFile(lostFile.split('\n').at(-1) as string);
      crashed.sql('INSERT INTO t VALUES (2);');
      await crashed.switchAndArchive();
      files = await loadTimeline(crashed, 1, scratch);
    });

    afterAll(async () => {
      await crashed?.destroy();
    });

    it('returns the abandoned record pg_waldump names in OVERWRITE_CONTRECORD, chained and alone', () => {
      const overwrite = files.dump.find((r) => r.description.startsWith('OVERWRITE_CONTRECORD'));
      const abandoned = parsePgLsn(/lsn (\S+);/.exec(overwrite?.description ?? '')?.[1] ?? '0/0');
      expect(abandoned).toBeGreaterThan(0n);
      const contents = readChained(files);
      const holder = contents.findIndex((c) => c.abandonedRecordLsn !== undefined);
      expect(contents[holder]?.abandonedRecordLsn).toBe(abandoned);
      expect(contents[holder - 1]?.incompleteRecord?.lsn).toBe(abandoned);
      expect(contents.every((c) => c.error === undefined)).toBe(true);
      expect(contents.flatMap((c) => endsOf(c.timedRecords))).toEqual(expectedEnds(files.dump));
      const name = files.names[holder] as string;
      const alone = readSegment(files.bytes.get(name) as Uint8Array, { fileName: name });
      expect(alone.abandonedRecordLsn).toBe(abandoned);
    });
  });

  describe('readSegment on damaged segments', () => {
    /** The complete segment with the most records, and the extent of every record that ends in it. */
    function busiest(): { bytes: Uint8Array; records: RecordInfo[]; commits: Set<string> } {
      const complete = timeline1.names.filter((name) => !name.endsWith('.partial'));
      const counts = complete.map((name) => readSegment(timeline1.bytes.get(name) as Uint8Array).recordCount);
      const name = complete[counts.indexOf(Math.max(...counts))] as string;
      const bytes = timeline1.bytes.get(name) as Uint8Array;
      const records: RecordInfo[] = [];
      const original = readSegment(bytes, { onRecord: (r) => records.push(r), collectTimedRecords: true });
      return { bytes, records, commits: new Set(endsOf(original.timedRecords)) };
    }

    it('never throws and never returns a commit past the cut when a segment is truncated', () => {
      const { bytes, records, commits } = busiest();
      const start = readSegment(bytes).startLsn as bigint;
      const ends = new Map(records.map((r) => [r.lsn, r.lsn + BigInt(r.totalLength)]));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), (cut) => {
          const content = readSegment(bytes.subarray(0, cut), { collectTimedRecords: true });
          expect(content.error).toBeDefined();
          for (const found of endsOf(content.timedRecords)) expect(commits.has(found)).toBe(true);
          for (const record of content.timedRecords ?? []) {
            expect(ends.get(record.lsn) as bigint).toBeLessThanOrEqual(start + BigInt(cut));
          }
        }),
        { numRuns: 150 },
      );
    });

    it('never returns a commit at or after a record whose bytes were changed', () => {
      const { bytes, records, commits } = busiest();
      const start = readSegment(bytes).startLsn as bigint;
      const offsets = records
        .filter((r) => r.lsn >= start)
        .map((r) => ({ lsn: r.lsn, from: Number(r.lsn - start), to: Number(r.lsn - start) + r.totalLength }));
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: offsets.length - 1 }),
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (index, position, mask) => {
            const record = offsets[index] as { lsn: bigint; from: number; to: number };
            let at = record.from + (position % (record.to - record.from));
            // Page headers inside a long record are not the record's bytes: move past them.
            if (at % 8192 < 24 && Math.floor(at / 8192) !== Math.floor(record.from / 8192))
              at = at - (at % 8192) + 24;
            if (at >= record.to) return;
            const damaged = bytes.slice();
            damaged[at] = (damaged[at] as number) ^ mask;
            const content = readSegment(damaged, { collectTimedRecords: true });
            // A length changed to zero reads as the end of WAL, as PostgreSQL reads it; a longer length on
            // the last page reads as a record continued in the next segment, which only that one can refute.
            const stopped =
              content.error !== undefined ||
              content.end === 'end-of-wal' ||
              content.incompleteRecord?.lsn === record.lsn;
            expect(stopped).toBe(true);
            for (const found of endsOf(content.timedRecords)) expect(commits.has(found)).toBe(true);
            for (const timed of content.timedRecords ?? []) expect(timed.lsn < record.lsn).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('never throws whatever bytes change, and returns only commits of the original', () => {
      const { bytes, commits } = busiest();
      fc.assert(
        fc.property(
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })),
            {
              minLength: 1,
              maxLength: 8,
            },
          ),
          (changes) => {
            const damaged = bytes.slice();
            for (const [at, value] of changes) damaged[at] = value;
            const content = readSegment(damaged, { collectTimedRecords: true });
            for (const found of endsOf(content.timedRecords)) expect(commits.has(found)).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
