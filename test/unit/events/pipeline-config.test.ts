import { describe, expect, it } from 'vitest';
import { settingFor } from '../../../shared/config/cluster-setting.js';
import { ConfigError } from '../../../shared/config/monitor-config.js';
import { readPipelineConfig } from '../../../shared/events/pipeline-config.js';

const base = { WALWATCH_ARCHIVE_BUCKET: 'archive', WALWATCH_TABLE_NAME: 'walwatch' };

describe('readPipelineConfig', () => {
  it('reads bucket and table, with segment sizes detected and no roots by default', () => {
    expect(readPipelineConfig(base)).toEqual({
      bucket: 'archive',
      table: 'walwatch',
      segmentSizes: { default: 'auto', clusters: [] },
      archiveRoots: [],
      readContent: { default: 'chain-ends', clusters: [] },
    });
  });

  it('reads archive roots without their trailing slash and a custom segment size', () => {
    const config = readPipelineConfig({
      ...base,
      WALWATCH_ARCHIVE_ROOTS: 'spilo/a/wal/15/, spilo/b/wal/16/,,',
      WALWATCH_SEGMENT_SIZE: String(64 * 1024 * 1024),
    });
    expect(config.archiveRoots).toEqual(['spilo/a/wal/15', 'spilo/b/wal/16']);
    expect(config.segmentSizes).toEqual({ default: 64 * 1024 * 1024, clusters: [] });
  });

  it('reads segment sizes per cluster, with units, as ingest and reconcile look them up', () => {
    const config = readPipelineConfig({
      ...base,
      WALWATCH_SEGMENT_SIZE: '16777216; 64MiB=spilo/big/*,spilo/huge/wal/16',
    });
    expect(settingFor(config.segmentSizes, 'spilo/big/wal/15')).toBe(64 * 1024 * 1024);
    expect(settingFor(config.segmentSizes, 'spilo/huge/wal/16')).toBe(64 * 1024 * 1024);
    expect(settingFor(config.segmentSizes, 'spilo/small/wal/16')).toBe(16 * 1024 * 1024);
  });

  it('reads the per-cluster content policy ingest follows', () => {
    const config = readPipelineConfig({ ...base, WALWATCH_READ_CONTENT: 'off; chain-ends=spilo/a/*' });
    expect(config.readContent).toEqual({
      default: 'off',
      clusters: [{ pattern: 'spilo/a/*', value: 'chain-ends' }],
    });
  });

  it.each([
    [{ WALWATCH_TABLE_NAME: 'walwatch' }, /WALWATCH_ARCHIVE_BUCKET is not set/],
    [{ WALWATCH_ARCHIVE_BUCKET: 'archive' }, /WALWATCH_TABLE_NAME is not set/],
    [{ ...base, WALWATCH_SEGMENT_SIZE: '1000' }, /WALWATCH_SEGMENT_SIZE: "1000" is not a WAL segment size/],
    [
      { ...base, WALWATCH_SEGMENT_SIZE: '16MiB; 64MiB' },
      /WALWATCH_SEGMENT_SIZE names two default sizes: 16MiB and 64MiB/,
    ],
    [{ ...base, WALWATCH_READ_CONTENT: 'some' }, /WALWATCH_READ_CONTENT must be off, chain-ends or all/],
  ])('throws a ConfigError naming the variable for %j', (env, message) => {
    expect(() => readPipelineConfig(env)).toThrow(ConfigError);
    expect(() => readPipelineConfig(env)).toThrow(message);
  });
});
