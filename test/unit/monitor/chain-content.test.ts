import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseContentPolicy } from '../../../shared/config/content-policy.js';
import { analyzeCluster } from '../../../shared/core/analyze.js';
import { walFileName } from '../../../shared/core/lsn.js';
import type { ClusterState } from '../../../shared/core/state.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { refreshChainCommits, refreshChainCommitsOf } from '../../../shared/monitor/chain-content.js';
import { type ArchiveSource, SourceAccessError } from '../../../shared/sources/archive-source.js';
import { readChainCommits } from '../../../shared/sources/chain-commits.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;

/** What a folder source throws for a file that is not there. */
const absent = (key: string) =>
  new SourceAccessError(`cannot read ${key}: no such file`, {
    cause: Object.assign(new Error('ENOENT'), { code: 'ENOENT' }),
  });

/** A state store with versions, and a source whose segment bodies are not WAL (so no commit is found). */
function setup(segments: number) {
  const objects = generateArchive({
    clusterId: 'c',
    segmentSize: 16 * MIB,
    segments,
    switches: [],
    backups: [1],
  });
  let stored = {
    state: [
      ...buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values(),
    ][0] as ClusterState,
    ver: 1,
  };
  const reads: string[] = [];
  const source: ArchiveSource = {
    description: 'test',
    list: async function* () {},
    read: async (key) => {
      reads.push(key);
      if (!objects.some((o) => o.key === key)) throw absent(key);
      return new TextEncoder().encode('not a WAL segment, just bytes long enough to have a header at all..');
    },
  };
  const deps = {
    getState: async () => stored,
    putState: async (state: ClusterState, ver: number) => {
      if (ver !== stored.ver) return 'conflict' as const;
      stored = { state, ver: ver + 1 };
      return 'written' as const;
    },
    source,
    now: () => Date.parse('2026-11-02T00:00:00Z'),
  };
  return { deps, reads, current: () => stored };
}

describe('refreshChainCommits', () => {
  it('reads the chain end once, remembers that it holds no commit, and reads nothing more while it stays', async () => {
    const { deps, reads, current } = setup(10);
    const first = await refreshChainCommits(deps, 'c');
    expect(first).toMatchObject({ read: 1, updated: true });
    expect(first.errors.join(' ')).toContain('00000001000000000000000A');
    expect(current().state.commits).toEqual({ '1:10': null });
    const readsAfterFirst = reads.length;
    expect(await refreshChainCommits(deps, 'c')).toMatchObject({ read: 0, updated: false });
    expect(reads.length).toBe(readsAfterFirst);
  });

  it('forgets chain ends that moved on', async () => {
    const { deps, current } = setup(10);
    current().state.commits = {
      '1:7': { lastCommitTime: '2026-11-01T00:06:00.000000Z', lastCommitLsn: '0/7FFFF00' },
    };
    await refreshChainCommits(deps, 'c');
    expect(Object.keys(current().state.commits ?? {})).toEqual(['1:10']);
  });
});

describe('refreshChainCommits when reads fail for a passing reason', () => {
  it('leaves the chain end unknown while S3 throttles, and settles it once reads work again', async () => {
    const { deps, current, reads } = setup(10);
    const throttled = Object.assign(new Error('Please reduce your request rate.'), {
      name: 'SlowDown',
      $metadata: { httpStatusCode: 503 },
    });
    let throttling = true;
    const flaky = {
      ...deps,
      source: {
        read: async (key: string) => {
          if (throttling)
            throw new SourceAccessError(`cannot read s3://b/${key}: SlowDown`, { cause: throttled });
          return deps.source.read(key);
        },
      },
    };
    const before = current();
    const first = await refreshChainCommits(flaky, 'c');
    expect(first).toMatchObject({ updated: false });
    expect(first.errors.join(' ')).toContain('cannot read the segment now');
    expect(current()).toBe(before);

    throttling = false;
    expect(await refreshChainCommits(flaky, 'c')).toMatchObject({ read: 1, updated: true });
    expect(current().state.commits).toEqual({ '1:10': null });
    expect(reads.length).toBeGreaterThan(0);
  });

  it('remembers a chain end whose segment is absent under every extension', async () => {
    const { deps, current } = setup(10);
    const missing = { ...deps, source: { read: async (key: string) => Promise.reject(absent(key)) } };
    const outcome = await refreshChainCommits(missing, 'c');
    expect(outcome).toMatchObject({ updated: true });
    expect(outcome.errors.join(' ')).toContain('cannot read the segment: ');
    expect(current().state.commits).toEqual({ '1:10': null });
  });
});

describe('readChainCommits', () => {
  it("tries the extension that held the archive's last segment first", async () => {
    const { deps } = setup(10);
    const stored = new Map<string, Uint8Array>();
    const reads: string[] = [];
    const source = {
      read: async (key: string) => {
        reads.push(key);
        const body = stored.get(key);
        if (!body) throw absent(key);
        return body;
      },
    };
    // gzip is fifth in WAL-G's fetch order (lz4, zstd, brotli, lzma, gzip).
    const key = (segno: number) => `gz-archive/wal_005/${walFileName(1, segno, 16 * MIB)}.gz`;
    for (const segno of [10, 11]) stored.set(key(segno), gzipSync(new Uint8Array(64)));
    const at = (segments: number) => ({
      ...analyzeCluster(setup(segments).current().state, { now: deps.now() }),
      id: 'gz-archive',
    });
    // The bodies hold no commit, so each read goes on to the segment before, until one is absent.
    await readChainCommits(source, at(10));
    expect(reads.indexOf(key(10))).toBe(4);
    reads.length = 0;
    await readChainCommits(source, at(11));
    expect(reads.slice(0, 3)).toEqual([key(11), key(10), key(9)]);
  });
});

describe('refreshChainCommits under concurrent folds', () => {
  it('retries when a fold moved the state meanwhile, keeping the fold and reading the new chain end', async () => {
    const { deps, current } = setup(10);
    const grown = setup(11).current().state;
    let folded = false;
    const racing = {
      ...deps,
      putState: async (state: ClusterState, ver: number) => {
        if (!folded) {
          // Ingest folds segment 11 between this refresh's read and its write.
          folded = true;
          await deps.putState(grown, current().ver);
        }
        return deps.putState(state, ver);
      },
    };
    const outcome = await refreshChainCommits(racing, 'c');
    expect(outcome).toMatchObject({ updated: true });
    expect(current().state.segments).toEqual(grown.segments);
    expect(current().state.commits).toEqual({ '1:11': null });
  });

  it('gives up after repeated conflicts without writing, leaving the chain end to the next run', async () => {
    const { deps, current } = setup(10);
    const before = current();
    const outcome = await refreshChainCommits({ ...deps, putState: async () => 'conflict' as const }, 'c');
    expect(outcome).toEqual({
      read: 0,
      updated: false,
      errors: ['the cluster state kept changing; the next run tries again'],
    });
    expect(current()).toBe(before);
  });
});

describe('refreshChainCommitsOf', () => {
  it('refreshes only the clusters the policy reads, and reports a failing cluster without stopping', async () => {
    const { deps, current } = setup(10);
    const asked: string[] = [];
    const many = {
      ...deps,
      getState: async (clusterId: string) => {
        asked.push(clusterId);
        if (clusterId === 'broken') throw new Error('throttled');
        return clusterId === 'c' ? deps.getState() : undefined;
      },
    };
    const policy = parseContentPolicy('chain-ends; off=quiet/*', 'test');
    const results = await refreshChainCommitsOf(many, policy, ['broken', 'quiet/x', 'c']);
    expect(asked).toEqual(['broken', 'c']);
    expect(results.get('broken')).toEqual({ read: 0, updated: false, errors: ['Error: throttled'] });
    expect(results.get('c')).toMatchObject({ read: 1, updated: true });
    expect(results.has('quiet/x')).toBe(false);
    expect(current().state.commits).toEqual({ '1:10': null });
  });

  it('starts no cluster after the deadline', async () => {
    const { deps } = setup(10);
    let now = 0;
    const timed = {
      ...deps,
      now: () => now,
      getState: async () => {
        now += 600;
        return undefined;
      },
    };
    const results = await refreshChainCommitsOf(
      timed,
      parseContentPolicy('all', 'test'),
      ['a', 'b', 'c'],
      1000,
    );
    expect([...results.keys()]).toEqual(['a', 'b']);
  });
});
