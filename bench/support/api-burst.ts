/**
 * The burst half of `npm run bench api`: a real `walwatch serve` child process (its own event loop, store,
 * watcher and sweeper) and autocannon as the load generator in this process, so the client's work never
 * delays the server's answers. One burst is 2,000 requests sent at once on 2,000 connections, a quarter
 * to each route; it runs several times, printing p50/p99 per route, the ratio to the target, the answers
 * that were not 200 (a 503 from a full queue counts against the route) and the server's event-loop delay.
 *
 * `WALWATCH_BENCH_CPU_PROF=DIR` also writes the server's CPU profile into DIR (`node --cpu-prof`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { generateArchive } from '../../test/support/archive-generator.js';

/** Requests in one burst, all sent at once. */
const BURST = 2_000;
const TARGET_P99_MS = 100;
const ROUNDS = 3;
const CLUSTERS = 20;
const MIB = 1024 * 1024;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs the burst rounds against a fresh `walwatch serve` and prints the numbers. */
export async function benchBurst(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'walwatch-burst-'));
  const archive = join(work, 'archive');
  const clusters = Array.from({ length: CLUSTERS }, (_, n) => `spilo/burst-${n}/wal/16`);
  for (const clusterId of clusters)
    for (const object of generateArchive({
      clusterId,
      segmentSize: 16 * MIB,
      segments: 30,
      switches: [],
      backups: [1],
    })) {
      const path = join(archive, ...object.key.split('/'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, object.content ?? 'x');
    }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = startServer(work, archive, port);
  const bare = await startBareServer();
  try {
    await waitForFleet(url, server, CLUSTERS);
    const id = encodeURIComponent(clusters[3] as string);
    const routes = ['/healthz', '/clusters', `/clusters/${id}`, `/clusters/${id}/gaps`];
    process.stdout.write(
      `burst: ${BURST} requests at once on ${BURST} connections (${BURST / routes.length} a route) against a ` +
        `walwatch serve child process of ${CLUSTERS} clusters, ${ROUNDS} rounds, each after the same burst ` +
        `against a bare node:http server; target p99 ${TARGET_P99_MS} ms\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      // The same burst against a bare node:http server first: what this machine and client cost alone.
      const floor = await burst(`http://127.0.0.1:${bare.port}`, routes);
      await server.eventLoopDelay(); // starts the probe's window over
      const served = await burst(url, routes);
      const loop = await server.eventLoopDelay();
      process.stdout.write(
        `round ${round}: ${served.ms.toFixed(0)} ms in all (bare server ${floor.ms.toFixed(0)} ms); ` +
          `server event-loop delay p99 ${loop.p99} ms, max ${loop.max} ms\n`,
      );
      for (const [i, result] of served.results.entries()) {
        const route = (routes[i] as string).replace(id, '{id}');
        const bareP99 = floor.results[i]?.latency.p99 ?? Number.NaN;
        const other = Object.entries(result.statusCodeStats ?? {})
          .filter(([status]) => status !== '200')
          .map(([status, { count }]) => `${count} × ${status}`);
        if (result.errors > 0) other.push(`${result.errors} errors (${result.timeouts} timeouts)`);
        process.stdout.write(
          `  ${route.padEnd(22)} p50 ${ms(result.latency.p50)}, p99 ${ms(result.latency.p99)} ` +
            `(target ${TARGET_P99_MS} ms, ratio ${(result.latency.p99 / TARGET_P99_MS).toFixed(2)}; ` +
            `bare server p99 ${ms(bareP99)}, ratio ${(result.latency.p99 / bareP99).toFixed(2)})` +
            `${other.length > 0 ? `; not 200: ${other.join(', ')}` : ''}\n`,
        );
      }
    }
  } finally {
    await server.stop();
    bare.child.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
}

const ms = (value: number) => `${value.toFixed(0).padStart(5)} ms`;

/** One burst: every route's share of {@link BURST} at once, each on its own connection. */
async function burst(url: string, routes: readonly string[]) {
  const started = performance.now();
  const results = await Promise.all(
    routes.map((route) =>
      autocannon({
        url: `${url}${route}`,
        connections: BURST / routes.length,
        amount: BURST / routes.length,
        timeout: 30,
      }),
    ),
  );
  return { ms: performance.now() - started, results };
}

/** A bare node:http child process answering `{"ok":true}` to anything, with the monitor's listen backlog. */
async function startBareServer(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"ok":true}'); })` +
        `.listen(${port}, '127.0.0.1', 4096, () => process.stdout.write('ready\\n'));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await once(child.stdout as NodeJS.ReadableStream, 'data');
  return { child, port };
}

interface ServerProcess {
  readonly child: ChildProcess;
  /** Event-loop delay (ms) since the previous call, from the preloaded probe. */
  eventLoopDelay(): Promise<{ p50: number; p99: number; max: number }>;
  stop(): Promise<void>;
}

/** Starts `walwatch serve` as a child process with the event-loop probe preloaded. */
function startServer(work: string, archive: string, port: number): ServerProcess {
  const profile = process.env.WALWATCH_BENCH_CPU_PROF;
  const child = spawn(
    process.execPath,
    [
      ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : []),
      '--import',
      'tsx',
      '--import',
      join(root, 'bench/support/event-loop-probe.ts'),
      join(root, 'bin/walwatch.js'),
      'serve',
      '--dir',
      archive,
      '--data',
      join(work, 'data'),
      '--listen',
      `127.0.0.1:${port}`,
      '--drill-every',
      'off',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const waiting: Array<(line: string) => void> = [];
  let log = '';
  let pending = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{"eventLoopDelayMs"')) waiting.shift()?.(line);
      else log += `${line}\n`;
    }
  });
  const exited = once(child, 'exit');
  return {
    child,
    eventLoopDelay: () =>
      new Promise((resolveDelay, reject) => {
        if (child.exitCode !== null) return reject(new Error(`walwatch serve exited:\n${log}`));
        waiting.push((line) =>
          resolveDelay((JSON.parse(line) as { eventLoopDelayMs: never }).eventLoopDelayMs),
        );
        child.kill('SIGUSR2');
      }),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (log.includes('Error')) process.stdout.write(`walwatch serve logged:\n${log}`);
    },
  };
}

/** Waits until the server's fleet page lists every cluster (ingested and swept). */
async function waitForFleet(url: string, server: ServerProcess, clusters: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error('walwatch serve exited before it was ready');
    const listed = await fetch(`${url}/clusters?limit=100`)
      .then(async (response) =>
        response.ok ? ((await response.json()) as { clusters: unknown[] }).clusters.length : 0,
      )
      .catch(() => 0);
    if (listed >= clusters) return;
    await new Promise((done) => setTimeout(done, 250));
  }
  throw new Error(`walwatch serve did not list ${clusters} clusters within 2 minutes`);
}

/** A TCP port nothing listens on now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  await new Promise((done) => probe.close(done));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}
