import { describe, expect, it } from 'vitest';
import { judgeDrill, normalizeMicros } from '../../../shared/core/drill.js';
import { recordEnd, replayPositionAfter } from '../../../shared/drill/predict-drill.js';
import { parseRecoveryLog } from '../../../shared/drill/restore-server.js';
import { MissingTarPartError, orderTarParts, type TarPart } from '../../../shared/drill/unpack-backup.js';

const part = (name: string): TarPart => ({ key: `b/tar_partitions/${name}.lz4`, name, size: 1 });

describe('judgeDrill', () => {
  const predicted = {
    timeline: 2,
    lsn: '0/3000100',
    lastRecordLsn: '0/30000C8',
    lastCommitTime: '2026-12-03T06:26:43.585860Z',
  };

  it('verifies a reached end inside the last record with the same timeline and commit time', () => {
    expect(
      judgeDrill(predicted, { timeline: 2, lsn: '0/30000C8', lastCommitTime: '2026-12-03T06:26:43.58586Z' }),
    ).toEqual({
      verdict: 'verified',
      reason: null,
    });
  });

  it.each([
    [
      { timeline: 1, lsn: '0/3000100', lastCommitTime: predicted.lastCommitTime },
      'timeline: predicted 2, reached 1',
    ],
    [
      { timeline: 2, lsn: '0/2FFFFF0', lastCommitTime: predicted.lastCommitTime },
      'end of WAL: predicted 0/3000100',
    ],
    [{ timeline: 2, lsn: '0/3000108', lastCommitTime: predicted.lastCommitTime }, 'reached 0/3000108'],
    [{ timeline: 2, lsn: '0/3000100', lastCommitTime: '2026-12-03T06:26:43.585861Z' }, 'last transaction'],
  ])('reports a mismatch with both values (%o)', (reached, reason) => {
    const judged = judgeDrill(predicted, reached);
    expect(judged.verdict).toBe('mismatch');
    expect(judged.reason).toContain(reason);
  });
});

describe('normalizeMicros', () => {
  it.each([
    ['2026-12-03 06:41:01.12345+00', '2026-12-03T06:41:01.123450Z'],
    ['2026-12-03T07:41:01.5+01:00', '2026-12-03T06:41:01.500000Z'],
    ['2026-12-03T06:41:01Z', '2026-12-03T06:41:01.000000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(normalizeMicros(text)).toBe(iso);
  });
});

describe('orderTarParts', () => {
  it('puts data parts in number order, then backup_label, pg_control last', () => {
    const ordered = orderTarParts('base_1', [
      part('pg_control.tar'),
      part('part_010.tar'),
      part('backup_label.tar'),
      part('part_002.tar'),
      part('part_001.tar'),
      ...Array.from({ length: 7 }, (_, i) => part(`part_${String(i + 3).padStart(3, '0')}.tar`)),
    ]).map((p) => p.name);
    expect(ordered.slice(0, 3)).toEqual(['part_001.tar', 'part_002.tar', 'part_003.tar']);
    expect(ordered.slice(-3)).toEqual(['part_010.tar', 'backup_label.tar', 'pg_control.tar']);
  });

  it('names every missing part', () => {
    expect(() =>
      orderTarParts('base_1', [part('part_001.tar'), part('part_003.tar'), part('backup_label.tar')]),
    ).toThrow(new MissingTarPartError('base_1', ['part_002.tar', 'pg_control.tar']));
  });
});

describe('parseRecoveryLog', () => {
  it('reads the consistency point, the end of redo, the last transaction and the last timeline restored', () => {
    const log = [
      'LOG:  restored log file "000000010000000000000003" from archive',
      'LOG:  consistent recovery state reached at 0/3000100',
      'LOG:  restored log file "000000020000000000000004" from archive',
      'LOG:  redo done at 0/4000A28 system usage: CPU: user: 0.00 s',
      'LOG:  last completed transaction was at log time 2026-12-03 06:41:01.12345+00',
      'FATAL:  recovery ended before configured recovery target was reached',
    ].join('\n');
    expect(parseRecoveryLog(log)).toEqual({
      consistentLsn: '0/3000100',
      redoDoneLsn: '0/4000A28',
      lastTransactionTime: '2026-12-03 06:41:01.12345+00',
      lastRestoredTimeline: 2,
      targetNotReached: true,
    });
  });
});

describe('recordEnd', () => {
  it('adds the page headers a record crosses', () => {
    expect(recordEnd(0x1000n, 100, 16 * 1024 * 1024)).toBe(0x1064n);
    // 8000 bytes from 0x1F00: 256 on the first page, a 24-byte header, the rest on the next.
    expect(recordEnd(0x1f00n, 8000, 16 * 1024 * 1024)).toBe(0x1f00n + 8000n + 24n);
  });
});

describe('replayPositionAfter', () => {
  it.each([
    [0x91e612n, 0x91e618n],
    [0x91e618n, 0x91e618n],
    [0x2000n, 0x2000n],
    [0x1fffn, 0x2000n],
  ])('rounds the end %s up to the 8-byte boundary where the next record starts', (end, position) => {
    expect(replayPositionAfter(end)).toBe(position);
  });
});
