/**
 * The local monitor's HTTP surface under load, over real HTTP on loopback: identical reads in flight share
 * one store read, store-backed requests beyond the queue get 503 with `Retry-After` (as the OpenAPI
 * document says) without waiting, a 503 is not kept by the read cache, and `/healthz` answers while every
 * store read is stalled. The store is a memory store behind a gate the test opens, so "stalled" is a state
 * the test holds, not a matter of timing.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../shared/api/monitor-data.js';
import { buildClusterStates } from '../../shared/core/state.js';
import { createLocalApp } from '../../shared/local/local-app.js';
import type { StoreQueueLimits } from '../../shared/local/store-queue.js';
import { contentLookup, generateArchive } from '../support/archive-generator.js';
import { loadOpenApiValidator } from '../support/openapi-validator.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/busy/wal/15';
const id = encodeURIComponent(CLUSTER);

/** A memory store whose cluster-state reads are counted and wait while the gate is shut. */
function gatedStore() {
  const objects = generateArchive({
    clusterId: CLUSTER,
    segmentSize: 16 * MIB,
    segments: 12,
    switches: [],
    backups: [1],
  });
  const inner = createMemoryMonitorData(buildClusterStates(objects, contentLookup(objects), () => 16 * MIB));
  let open: () => void = () => undefined;
  let gate = Promise.resolve();
  const reads: string[] = [];
  const data: MonitorData = {
    ...inner,
    getClusterState: async (clusterId) => {
      reads.push(clusterId);
      await gate;
      return inner.getClusterState(clusterId);
    },
  };
  return {
    data,
    reads,
    shut: () => {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    open: () => open(),
  };
}

interface Running {
  readonly url: string;
  /** Resolves once the server has received `count` requests in all. */
  received(count: number): Promise<void>;
}

const servers: ServerType[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // The test's fetches keep their connections alive.
    (server as Server).closeAllConnections();
    await closed;
  }
});

async function start(
  data: MonitorData,
  storeQueue?: StoreQueueLimits,
  cacheClock?: () => number,
  storeVersion?: () => number,
): Promise<Running> {
  let port = 0;
  const app = createLocalApp({
    options: { dataDir: 'unused', host: '127.0.0.1', port: 0, segmentSize: 16 * MIB },
    data,
    drills: () => undefined,
    ingest: async () => new Map(),
    listenPort: () => port,
    log: () => undefined,
    ...(storeQueue ? { storeQueue } : {}),
    ...(cacheClock ? { cacheClock } : {}),
    ...(storeVersion ? { storeVersion } : {}),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(started));
  });
  servers.push(server);
  port = (server.address() as AddressInfo).port;
  let seen = 0;
  const waiters: Array<{ count: number; done: () => void }> = [];
  server.on('request', () => {
    seen++;
    for (const waiter of waiters.filter((w) => w.count <= seen)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.done();
    }
  });
  return {
    url: `http://127.0.0.1:${port}`,
    received: async (count) => {
      if (seen < count) await new Promise<void>((done) => waiters.push({ count, done }));
      // The requests' handlers run on to their first wait (the gate, a shared flight, the queue).
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('the local monitor under a burst', () => {
  it('sends identical reads in flight to the store once, and each caller gets the answer', async () => {
    const store = gatedStore();
    const server = await start(store.data);
    store.shut();
    const answers = Array.from({ length: 20 }, () => fetch(`${server.url}/clusters/${id}`));
    await server.received(20);
    expect(store.reads).toEqual([CLUSTER]);
    store.open();
    const responses = await Promise.all(answers);
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0] as string).cluster.id).toBe(CLUSTER);
    expect(store.reads).toEqual([CLUSTER]);
  });

  it('answers 503 with Retry-After at once beyond the queue, as the document says, and does not keep it', async () => {
    const store = gatedStore();
    const server = await start(store.data, { running: 1, waiting: 1, retryAfterSeconds: 2 });
    store.shut();
    // Two different reads take the one running place and the one waiting place.
    const running = fetch(`${server.url}/clusters/${id}`);
    const waiting = fetch(`${server.url}/clusters/${id}/gaps`);
    await server.received(2);
    expect(store.reads).toEqual([CLUSTER]);

    const refused = await fetch(`${server.url}/clusters/${id}/backups`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(((await refused.clone().json()) as { error: { code: string } }).error.code).toBe('overloaded');
    const validator = await loadOpenApiValidator({
      request: (path, init) => fetch(`${server.url}${path}`, init),
    });
    await expect(validator.check('GET', `/clusters/${id}/backups`, refused)).resolves.toBeUndefined();
    const documented = validator.document.paths['/clusters/{id}/backups']?.get?.responses['503'] as {
      headers?: Record<string, unknown>;
    };
    expect(Object.keys(documented.headers ?? {})).toEqual(['Retry-After']);

    store.open();
    expect((await running).status).toBe(200);
    expect((await waiting).status).toBe(200);
    // The refusal was not cached: the same read now reaches the store and answers.
    expect((await fetch(`${server.url}/clusters/${id}/backups`)).status).toBe(200);
  });

  it('answers /healthz and the API document while every store read is stalled', async () => {
    const store = gatedStore();
    const server = await start(store.data, { running: 1, waiting: 0, retryAfterSeconds: 1 });
    store.shut();
    let settled = false;
    const stalled = fetch(`${server.url}/clusters/${id}`).then((response) => {
      settled = true;
      return response;
    });
    await server.received(1);
    expect((await fetch(`${server.url}/clusters/${id}/gaps`)).status).toBe(503);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    expect((await fetch(`${server.url}/openapi.json`)).status).toBe(200);
    expect(settled).toBe(false);

    store.open();
    expect((await stalled).status).toBe(200);
  });

  it('answers a stale URL from its last answer at once and refreshes it once in the background', async () => {
    const store = gatedStore();
    let clock = Date.parse('2026-11-01T00:00:00Z');
    const server = await start(store.data, undefined, () => clock);
    const path = `${server.url}/clusters/${id}`;
    const first = await (await fetch(path)).text();
    expect(store.reads).toHaveLength(1);

    clock += 5_000;
    store.shut();
    // The store is stalled: the stale answer comes anyway, and one refresh is under way.
    const during = await Promise.all([fetch(path), fetch(path), fetch(path)]);
    expect(during.map((response) => response.status)).toEqual([200, 200, 200]);
    expect(await Promise.all(during.map((response) => response.text()))).toEqual([first, first, first]);
    expect(store.reads).toHaveLength(2);

    store.open();
    const after = await fetch(path);
    expect(after.status).toBe(200);
    expect(store.reads).toHaveLength(2);
  });

  it('waits for a fresh answer after the store changed, never answering from before the change', async () => {
    const store = gatedStore();
    let version = 0;
    const server = await start(store.data, undefined, undefined, () => version);
    const path = `${server.url}/clusters/${id}`;
    expect((await fetch(path)).status).toBe(200);
    version++;
    store.shut();
    let settled = false;
    const after = fetch(path).then((response) => {
      settled = true;
      return response;
    });
    await server.received(2);
    expect(store.reads).toHaveLength(2);
    expect(settled).toBe(false);
    store.open();
    expect((await after).status).toBe(200);
  });

  it('passes the fleet page through the cache once (one flight, not a flight waiting on itself)', async () => {
    const store = gatedStore();
    let queries = 0;
    const server = await start({
      ...store.data,
      queryFleet: (query) => {
        queries++;
        return store.data.queryFleet(query);
      },
    });
    const responses = await Promise.all(Array.from({ length: 5 }, () => fetch(`${server.url}/clusters`)));
    expect(responses.map((response) => response.status)).toEqual(Array(5).fill(200));
    expect(queries).toBe(1);
  });
});
