import { describe, expect, it } from 'vitest';
import { parseContentPolicy } from '../../../shared/config/content-policy.js';
import type { ClusterState } from '../../../shared/core/state.js';
import { buildClusterStates } from '../../../shared/core/state.js';
import { refreshChainCommits, refreshChainCommitsOf } from '../../../shared/monitor/chain-content.js';
import type { ArchiveSource } from '../../../shared/sources/archive-source.js';
import { contentLookup, generateArchive } from '../../support/archive-generator.js';

const MIB = 1024 * 1024;

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
      if (!objects.some((o) => o.key === key)) throw new Error('not found');
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
