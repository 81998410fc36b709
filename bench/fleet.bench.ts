/**
 * Fleet benchmark: 10,000 generated cluster states in the local DynamoDB-API server (dynalite, in a process
 * of its own as DynamoDB is to the functions), swept by this process with the bounded pool (no fan-out:
 * `fleet-scale` runs the sharded sweep), then listed by the Lambda API's handler in a process of its own
 * (`support/fleet-page-process.ts`), as the function runs beside the sweeper on AWS, with its DynamoDB requests
 * counted by operation, its GC pauses and RSS; a secondary line times the same page in this process, whose heap
 * holds the seeding and sweeps. Then the dashboard's fleet view in Chromium with 10,000 rows.
 * Targets: first page in ≤ 3 requests, p99 ≤ 50 ms; sweeper peak RSS ≤ 512 MB.
 */
import { loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import type { MonitorData } from '../shared/api/monitor-data.js';
import { createApiRouter } from '../shared/api/router.js';
import { buildClusterStates, type ClusterState } from '../shared/core/state.js';
import { sweep } from '../shared/monitor/sweep.js';
import { putClusterState } from '../shared/store/cluster-states.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';
import { contentLookup, generateArchive } from '../test/support/archive-generator.js';
import { startDashboardServer } from '../test/support/dashboard-server.js';
import { syntheticFleetRow } from '../test/support/fleet-rows.js';
import { peakRssOf, startDynamoProcess } from './support/dynamo-process.js';
import { measureFleetPageInOwnProcess } from './support/fleet-page-api.js';
import type { FleetPageReport } from './support/fleet-page-process.js';

const CLUSTERS = Number(process.env.WALWATCH_BENCH_CLUSTERS ?? 10_000);
const MIB = 1024 * 1024;
const START = Date.parse('2026-11-01T00:00:00Z');
const MINUTE = 60_000;
/** Pages measured per route and round. */
const PAGE_RUNS = 200;
/** Rounds of the fleet page measurement, each in a fresh API process. */
const PAGE_ROUNDS = Number(process.env.WALWATCH_BENCH_PAGE_ROUNDS ?? 3);

function stateOf(n: number): ClusterState {
  const clusterId = `spilo/team-${n % 97}-db-${n}/wal/16`;
  const objects = generateArchive({
    clusterId,
    segmentSize: 16 * MIB,
    segments: 12,
    switches: [],
    backups: [1],
    // One cluster in ten has a hole, one in 25 a failed backup upload.
    holes: n % 10 === 0 ? [8] : [],
    failed: n % 25 === 0 ? [0] : [],
    startAt: START + (n % 600) * 1000,
  });
  return buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).get(clusterId) as ClusterState;
}

function loadAverage(): string {
  return `load average ${loadavg()
    .map((load) => load.toFixed(2))
    .join(', ')}`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

export default async function benchFleet(): Promise<void> {
  const dynamo = await startDynamoProcess();
  const store = { db: dynamo.client(), table: 'walwatch' };
  await dynamo.createTable(store.table);
  let requests = 0;
  store.db.middlewareStack.add(
    (next) => async (args) => {
      requests += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  try {
    const loaded = performance.now();
    for (let start = 0; start < CLUSTERS; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CLUSTERS - start) }, (_, i) =>
          putClusterState(store.db, store.table, stateOf(start + i), 0),
        ),
      );
    }
    process.stdout.write(
      `${CLUSTERS} cluster states stored in ${((performance.now() - loaded) / 1000).toFixed(1)} s\n`,
    );
    const data = createDynamoMonitorData(store.db, store.table);
    const now = START + 20 * MINUTE;
    const sweepAt = async (at: number, label: string) => {
      requests = 0;
      const rssBefore = process.memoryUsage().rss;
      peakRss = rssBefore;
      const started = performance.now();
      const result = await sweep({
        data,
        now: () => at,
        publish: async () => undefined,
        emitMetrics: () => undefined,
      });
      const seconds = (performance.now() - started) / 1000;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      process.stdout.write(
        `sweep ${label.padEnd(38)} ${seconds.toFixed(1)} s wall, ${result.analyzed} analysed, ` +
          `${(requests / CLUSTERS).toFixed(3)} requests per cluster, ${result.sent.length} alerts, ` +
          `peak RSS ${(peakRss / MIB).toFixed(0)} MB (target 512 MB, ratio ${(peakRss / MIB / 512).toFixed(2)}; ` +
          `the sweeper with the bench, dynalite apart)\n`,
      );
    };
    await sweepAt(now, '(every cluster new)');
    await sweepAt(now + MINUTE, 'a minute later (nothing changed)');
    await sweepAt(now + 2 * MINUTE, 'two minutes later');

    await benchFleetPage({ endpoint: dynamo.endpoint, pid: dynamo.pid, table: store.table }, data);
    process.stdout.write(
      `peak RSS: this process (sweeper, seeding) ${(peakRssOf('self') / MIB).toFixed(0)} MiB, dynalite ${(dynamo.peakRss() / MIB).toFixed(0)} MiB\n`,
    );
  } finally {
    clearInterval(sampler);
    store.db.destroy();
    await dynamo.stop();
  }
  if (process.env.WALWATCH_BENCH_DASHBOARD !== '0') await benchDashboard();
}

const ROUTES = [
  '/clusters?limit=100',
  '/clusters?limit=100&status=critical',
  '/clusters?limit=100&q=db-77',
  '/clusters?limit=100&scope=team-5',
];

/**
 * The fleet page as it runs on AWS: the Lambda API's handler in a process of its own, a fresh one each round,
 * while this one waits. Then, as a secondary line, the router in this process, whose heap holds the seeding
 * and sweeps (its GC pauses land in the page's time).
 */
async function benchFleetPage(
  store: { endpoint: string; pid: number; table: string },
  data: MonitorData,
): Promise<void> {
  process.stdout.write(
    `fleet page: the Lambda API's handler in its own process, API Gateway events one at a time, ` +
      `${PAGE_RUNS} pages a route after 10 of each, ${PAGE_ROUNDS} rounds (a fresh process each)\n`,
  );
  const rounds: FleetPageReport[] = [];
  for (let round = 1; round <= PAGE_ROUNDS; round++) {
    const api = await measureFleetPageInOwnProcess(store, {
      routes: ROUTES,
      runs: PAGE_RUNS,
      warmup: 10,
      polls: 100,
    });
    rounds.push(api);
    for (const route of api.routes) {
      const p99 = percentile(route.times, 0.99);
      const perPage = route.perPage.reduce((sum, [, n]) => sum + n, 0);
      const ops = route.perPage.map(([name, n]) => `${n.toFixed(2)} ${name}`).join(' + ');
      process.stdout.write(
        `round ${round} GET ${route.route.padEnd(38)} p50 ${percentile(route.times, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
          `(target 50 ms, ratio ${(p99 / 50).toFixed(2)}), ${perPage.toFixed(2)} DynamoDB requests per page [${ops}] (target 3); ` +
          `CPU per page: API ${route.apiCpuMs.toFixed(1)} ms, dynalite ${route.storeCpuMs.toFixed(1)} ms; ` +
          `${route.slow} over 50 ms, ${route.slowWithGc} of them during a GC pause; ${loadAverage()}\n`,
      );
    }
    process.stdout.write(
      `round ${round} API process: 304 rate for an unchanged fleet ${api.notModified}/${api.polls} polls; RSS ${(api.rss / MIB).toFixed(0)} MiB ` +
        `(peak ${(api.peakRss / MIB).toFixed(0)} MiB, heap used ${(api.heapUsed / MIB).toFixed(0)} MiB; the function has 512 MB); ` +
        `GC while measuring: ${api.gc.count} pauses, ${api.gc.totalMs.toFixed(1)} ms in all, longest ${api.gc.maxMs.toFixed(1)} ms; ${loadAverage()}\n`,
    );
  }
  for (const [i, route] of ROUTES.entries()) {
    const of = (p: number) => median(rounds.map((round) => percentile(round.routes[i]?.times ?? [], p)));
    process.stdout.write(
      `median of ${PAGE_ROUNDS} rounds: GET ${route.padEnd(38)} p50 ${of(0.5).toFixed(1)} ms, p99 ${of(0.99).toFixed(1)} ms ` +
        `(target 50 ms, ratio ${(of(0.99) / 50).toFixed(2)})\n`,
    );
  }

  const app = createApiRouter({ data, now: Date.now, callerOf: () => 'bench' });
  const times: number[] = [];
  for (let i = 0; i < PAGE_RUNS + 10; i++) {
    const started = performance.now();
    const response = await app.request(ROUTES[0] as string);
    await response.arrayBuffer();
    if (i >= 10) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  process.stdout.write(
    `(secondary, the router in this process with the seeding and sweeps, its GC included: GET ${ROUTES[0]} ` +
      `p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms; ${loadAverage()})\n`,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The fleet view in Chromium over 10,000 rows: time of a first draw and of an update. */
async function benchDashboard(): Promise<void> {
  const now = Date.now();
  const fleet = Array.from({ length: CLUSTERS }, (_, n) => syntheticFleetRow(n + 1, now));
  const server = await startDashboardServer({ fleet });
  const browser = await chromium.launch({
    executablePath: process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(server.url);
    const view = page.locator('section.fleet');
    await page.locator('tr[data-cluster]').nth(99).waitFor();
    const firstDraw = Number(await view.getAttribute('data-draw-ms'));
    const updates: number[] = [];
    let last = '';
    for (let i = 0; i < 6; i++) {
      await page.waitForTimeout(2_100);
      const drawn = (await view.getAttribute('data-draw-ms')) ?? '';
      if (drawn !== last) updates.push(Number(drawn));
      last = drawn;
    }
    // A page change redraws every row.
    await page.locator('select[name="status"]').selectOption('warning');
    await page.waitForTimeout(1_000);
    const filterDraw = Number(await view.getAttribute('data-draw-ms'));
    process.stdout.write(
      `dashboard (Chromium, ${CLUSTERS} clusters, pages of 100): first draw ${firstDraw.toFixed(1)} ms, ` +
        `update between polls ${updates.map((ms) => ms.toFixed(1)).join(', ')} ms, new filter ${filterDraw.toFixed(1)} ms\n`,
    );
  } finally {
    await browser.close();
    await server.close();
  }
}
