import { describe, expect, it } from 'vitest';
import { parseBackupLabel } from '../../../shared/core/backup-label.js';
import { parseHistory } from '../../../shared/core/history.js';
import { parseBackupMetadata, parseSentinel } from '../../../shared/core/sentinel.js';

describe('parseHistory', () => {
  it('reads the history file PostgreSQL writes at promotion', () => {
    expect(parseHistory('1\t0/F001A0\tno recovery target specified\n', 2)).toEqual({
      ok: true,
      entries: [{ parent: 1, switchLsn: String(0xf001a0), reason: 'no recovery target specified' }],
    });
  });

  it('skips the blank lines between records and comments (WAL-G test vector)', () => {
    const text =
      '1\t0/90400000\tbefore 2000-01-01 05:00:00+05\n\n2\t0/A0000000\tat restore point "x"\n# note\n';
    const parsed = parseHistory(text, 3);
    expect(parsed.ok && parsed.entries.map((e) => e.parent)).toEqual([1, 2]);
  });

  it.each([
    ['', 'no timeline records'],
    ['garbage\n', 'is not'],
    ['3\t0/10\tx\n', 'not below'],
    ['1\t0/20\tx\n1\t0/30\tx\n', 'increasing'],
    ['1\t0/20\tx\n2\t0/10\tx\n', 'backwards'],
  ])('explains why %j is unreadable', (text, error) => {
    const parsed = parseHistory(text, 3);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toContain(error);
  });
});

describe('parseSentinel', () => {
  it('keeps 64-bit integers exact', () => {
    const parsed = parseSentinel(
      '{"LSN":3325915299880,"PgVersion":150015,"FinishLSN":18446744073709551615,"SystemIdentifier":7507672962298572862,"UncompressedSize":2604967632,"CompressedSize":858502390,"ChkpNum":null,"Version":2,"StartTime":"2025-12-20T02:00:01.793015Z","FinishTime":"2025-12-20T02:00:18.538578Z","DateFmt":"%Y-%m-%dT%H:%M:%S.%fZ","Hostname":"superpg","DataDir":"/pgroot/data","IsPermanent":false}',
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        format: 'wal-g',
        startLsn: '3325915299880',
        finishLsn: '18446744073709551615',
        systemIdentifier: '7507672962298572862',
        pgVersion: 150015,
        compressedSize: 858502390,
        finishTime: '2025-12-20T02:00:18.538Z',
        isPermanent: false,
      },
    });
  });

  it('reads delta fields, old and new', () => {
    const parsed = parseSentinel(
      '{"LSN":100,"DeltaFromLSN":50,"DeltaFrom":"base_000000010000000000000001","DeltaFullName":"base_000000010000000000000001","DeltaCount":1,"FinishLSN":200}',
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: { deltaFrom: 'base_000000010000000000000001', deltaCount: 1 },
    });
  });

  it('reads WAL-E sentinels', () => {
    const parsed = parseSentinel(
      '{"wal_segment_backup_stop": "000000010000000000000004", "wal_segment_offset_backup_stop": "00000296", "expanded_size_bytes": 12345}',
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: {
        format: 'wal-e',
        walEStop: { walFile: '000000010000000000000004', offset: 296 },
        uncompressedSize: 12345,
      },
    });
  });

  it.each([
    ['{"LSN": garbage', 'malformed JSON'],
    ['[]', 'not a JSON object'],
    ['{"FinishLSN": 10}', '"LSN"'],
    ['{"LSN": 10}', '"FinishLSN"'],
    ['{"LSN": 10, "FinishLSN": 5}', 'before'],
    ['{"LSN": -1, "FinishLSN": 5}', '"LSN"'],
    ['{"wal_segment_backup_stop": "xyz", "wal_segment_offset_backup_stop": "1"}', 'wal_segment_backup_stop'],
  ])('explains why %j is invalid', (text, error) => {
    const parsed = parseSentinel(text);
    expect(parsed.ok ? '' : parsed.error).toContain(error);
  });
});

describe('parseBackupMetadata', () => {
  it('reads permanence and the exact system identifier', () => {
    const parsed = parseBackupMetadata(
      '{"start_time":"2026-11-24T01:00:00.1Z","finish_time":"2026-11-24T01:00:20Z","date_fmt":"%Y","hostname":"h","data_dir":"/d","pg_version":150015,"start_lsn":50331688,"finish_lsn":50331904,"is_permanent":true,"system_identifier":7507672962298572862,"uncompressed_size":1,"compressed_size":2}',
    );
    expect(parsed).toMatchObject({
      ok: true,
      value: { isPermanent: true, systemIdentifier: '7507672962298572862', finishLsn: '50331904' },
    });
  });

  it('accepts a null system identifier', () => {
    expect(parseBackupMetadata('{"is_permanent":false,"system_identifier":null}')).toMatchObject({
      ok: true,
      value: { systemIdentifier: null, isPermanent: false },
    });
  });
});

describe('parseBackupLabel', () => {
  it('reads the .backup file PostgreSQL 15 writes', () => {
    const text = [
      'START WAL LOCATION: 0/800028 (file 000000010000000000000008)',
      'STOP WAL LOCATION: 0/8001C0 (file 000000010000000000000008)',
      'CHECKPOINT LOCATION: 0/800060',
      'BACKUP METHOD: streamed',
      'BACKUP FROM: primary',
      'START TIME: 2026-11-24 14:32:14 UTC',
      'LABEL: walg-like-label',
      'START TIMELINE: 1',
      'STOP TIME: 2026-11-24 14:32:14 UTC',
      'STOP TIMELINE: 1',
      '',
    ].join('\n');
    expect(parseBackupLabel(text)).toEqual({
      ok: true,
      label: {
        startLsn: String(0x800028),
        stopLsn: String(0x8001c0),
        checkpointLsn: String(0x800060),
        startTimeline: 1,
        stopTimeline: 1,
        startTime: '2026-11-24 14:32:14 UTC',
        stopTime: '2026-11-24 14:32:14 UTC',
        label: 'walg-like-label',
        method: 'streamed',
        from: 'primary',
      },
    });
  });

  it('rejects text without a start location', () => {
    expect(parseBackupLabel('LABEL: x\n').ok).toBe(false);
  });
});
