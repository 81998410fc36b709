import { describe, expect, it } from 'vitest';
import {
  parseBackupName,
  parseObjectKey,
  parseSpiloShape,
  stripCompression,
} from '../../../shared/core/keys.js';

describe('parseObjectKey', () => {
  it.each([
    [
      'spilo/superman/wal/15/wal_005/000000010000000000000002.lz4',
      'spilo/superman/wal/15',
      { kind: 'segment', walFile: '000000010000000000000002', compression: 'lz4' },
    ],
    [
      'spilo/superman/wal/15/wal_005/000000010000000000000002.00000060.backup.lz4',
      'spilo/superman/wal/15',
      { kind: 'backup-label', walFile: '000000010000000000000002', offset: 0x60, compression: 'lz4' },
    ],
    [
      'x/wal_005/00000001000000000000000F.partial.zst',
      'x',
      { kind: 'partial', walFile: '00000001000000000000000F', compression: 'zstd' },
    ],
    ['x/wal_005/00000002.history.br', 'x', { kind: 'history', timeline: 2, compression: 'brotli' }],
    ['x/wal_005/0000000A.history', 'x', { kind: 'history', timeline: 10, compression: 'none' }],
    [
      'x/wal_005/000000010000000000000001.',
      'x',
      { kind: 'segment', walFile: '000000010000000000000001', compression: 'none' },
    ],
    [
      'x/wal_005/000000010000000000000001',
      'x',
      { kind: 'segment', walFile: '000000010000000000000001', compression: 'none' },
    ],
    [
      'x/wal_005/000000010000000000000001.lzma',
      'x',
      { kind: 'segment', walFile: '000000010000000000000001', compression: 'lzma' },
    ],
    [
      'x/wal_005/000000010000000000000001.gz',
      'x',
      { kind: 'segment', walFile: '000000010000000000000001', compression: 'gzip' },
    ],
    [
      'x/wal_005/000000010000000000000001.lzo',
      'x',
      { kind: 'segment', walFile: '000000010000000000000001', compression: 'lzo' },
    ],
    ['x/wal_005/000000010000000000000001.json', 'x', { kind: 'wal-metadata' }],
    ['x/wal_005/00000001000000000000000.json', 'x', { kind: 'wal-metadata' }],
    ['x/wal_005/000000010000000000000010_delta.lz4', 'x', { kind: 'wal-delta' }],
    [
      'wal_005/000000010000000000000003.lz4',
      '',
      { kind: 'segment', walFile: '000000010000000000000003', compression: 'lz4' },
    ],
  ])('classifies %s', (key, clusterId, object) => {
    const parsed = parseObjectKey(key);
    expect(parsed?.clusterId).toBe(clusterId);
    expect(parsed?.object).toEqual(object);
  });

  it.each([
    'x/wal_005/00000001000000000000000g.lz4',
    'x/wal_005/000000010000000000000001.xz',
    'x/wal_005/sub/000000010000000000000001.lz4',
    'x/wal_005/',
    'x/basebackups_005/junk.txt',
    'x/basebackups_005/notabackup_backup_stop_sentinel.json',
    'x/basebackups_005/nota/metadata.json',
  ])('reports %s as unknown with a reason', (key) => {
    const parsed = parseObjectKey(key);
    expect(parsed?.object.kind).toBe('unknown');
    expect(parsed?.object).toHaveProperty('reason');
  });

  it('returns undefined for keys outside any archive', () => {
    expect(parseObjectKey('spilo/superman/log/postgres.csv')).toBeUndefined();
    expect(parseObjectKey('my_wal_005/000000010000000000000001')).toBeUndefined();
  });

  it('classifies sentinels, metadata and parts of WAL-G and WAL-E backups', () => {
    const root = 'spilo/acid-demo/efd12e58-1111/wal/15/basebackups_005/';
    expect(
      parseObjectKey(`${root}base_000000010000000000000003_backup_stop_sentinel.json`)?.object,
    ).toMatchObject({
      kind: 'sentinel',
      backup: {
        name: 'base_000000010000000000000003',
        startWalFile: '000000010000000000000003',
        deltaFromWalFile: null,
      },
    });
    expect(parseObjectKey(`${root}base_000000010000000000000003/metadata.json`)?.object.kind).toBe(
      'backup-metadata',
    );
    expect(
      parseObjectKey(`${root}base_000000010000000000000003/tar_partitions/part_001.tar.lz4`)?.object,
    ).toMatchObject({
      kind: 'backup-part',
      part: 'tar_partitions/part_001.tar.lz4',
    });
    expect(
      parseObjectKey(`${root}base_000000010000000000000003_00000040/extended_version.txt`)?.object,
    ).toMatchObject({
      kind: 'backup-part',
      backup: { walEOffset: 40 },
    });
  });

  it('keeps Unicode and spaces in cluster ids', () => {
    expect(parseObjectKey('spilo/sûper man/wal/16/wal_005/000000010000000000000001.lz4')?.clusterId).toBe(
      'spilo/sûper man/wal/16',
    );
  });
});

describe('parseBackupName', () => {
  it.each([
    [
      'base_000000010000000000000003',
      { startWalFile: '000000010000000000000003', deltaFromWalFile: null, walEOffset: null },
    ],
    [
      'base_0000004300000388000000BB_D_0000004300000388000000AC',
      {
        startWalFile: '0000004300000388000000BB',
        deltaFromWalFile: '0000004300000388000000AC',
        walEOffset: null,
      },
    ],
    [
      'base_000000010000000000000002_00000040',
      { startWalFile: '000000010000000000000002', deltaFromWalFile: null, walEOffset: 40 },
    ],
  ])('decodes %s', (name, expected) => {
    expect(parseBackupName(name)).toEqual({ name, ...expected });
  });

  it.each([
    'base_00000001',
    'base_000000010000000000000003_D_',
    'full_000000010000000000000003',
    'base_000000010000000000000003_0000004A',
  ])('rejects %s', (name) => {
    expect(parseBackupName(name)).toBeUndefined();
  });
});

describe('parseSpiloShape', () => {
  it.each([
    ['spilo/superman/wal/15', { scope: 'superman', uid: null, pgMajor: '15' }],
    ['spilo/acid-demo/efd12e58-aaaa/wal/16', { scope: 'acid-demo', uid: 'efd12e58-aaaa', pgMajor: '16' }],
    ['spilo/ns-demo/wal', { scope: 'ns-demo', uid: null, pgMajor: null }],
    ['spilo/old/wal/9.6', { scope: 'old', uid: null, pgMajor: '9.6' }],
    ['backups/pg-main', { scope: null, uid: null, pgMajor: null }],
  ])('reads %s', (id, shape) => {
    expect(parseSpiloShape(id)).toEqual(shape);
  });
});

describe('stripCompression', () => {
  it('strips exactly one known extension', () => {
    expect(stripCompression('a.history.lz4')).toEqual({ base: 'a.history', compression: 'lz4' });
    expect(stripCompression('a.history')).toEqual({ base: 'a.history', compression: 'none' });
    expect(stripCompression('a.')).toEqual({ base: 'a', compression: 'none' });
  });
});
