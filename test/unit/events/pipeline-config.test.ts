import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config/monitor-config.js';
import { readPipelineConfig } from '../../../shared/events/pipeline-config.js';

const base = { WALWATCH_ARCHIVE_BUCKET: 'archive', WALWATCH_TABLE_NAME: 'walwatch' };

describe('readPipelineConfig', () => {
  it('reads bucket and table, with 16 MiB segments and no roots by default', () => {
    expect(readPipelineConfig(base)).toEqual({
      bucket: 'archive',
      table: 'walwatch',
      segmentSize: 16 * 1024 * 1024,
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
    expect(config.segmentSize).toBe(64 * 1024 * 1024);
  });

  it('reads the per-cluster content policy ingest follows', () => {
    const config = readPipelineConfig({ ...base, WALWATCH_READ_CONTENT: 'off; chain-ends=spilo/a/*' });
    expect(config.readContent).toEqual({
      default: 'off',
      clusters: [{ pattern: 'spilo/a/*', mode: 'chain-ends' }],
    });
  });

  it.each([
    [{ WALWATCH_TABLE_NAME: 'walwatch' }, /WALWATCH_ARCHIVE_BUCKET is not set/],
    [{ WALWATCH_ARCHIVE_BUCKET: 'archive' }, /WALWATCH_TABLE_NAME is not set/],
    [{ ...base, WALWATCH_SEGMENT_SIZE: '1000' }, /WALWATCH_SEGMENT_SIZE="1000" is not a power of two/],
    [{ ...base, WALWATCH_READ_CONTENT: 'some' }, /WALWATCH_READ_CONTENT must be off, chain-ends or all/],
  ])('throws a ConfigError naming the variable for %j', (env, message) => {
    expect(() => readPipelineConfig(env)).toThrow(ConfigError);
    expect(() => readPipelineConfig(env)).toThrow(message);
  });
});
