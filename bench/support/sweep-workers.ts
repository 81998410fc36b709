/**
 * A pool of sweep worker processes (`sweep-worker-process.ts`), as the SQS event source runs the sweep
 * worker: up to its `maxConcurrency` invocations at once, one shard each. `WALWATCH_BENCH_PROFILE=<dir>`
 * writes each worker's CPU and heap profiles there.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pMap from 'p-map';
import type { ShardReport, ShardRequest } from './sweep-worker-process.js';

/** A running pool. */
export interface SweepWorkers {
  readonly size: number;
  /** Sweeps the shards, each on the next free worker; reports in shard order. */
  sweep(shards: readonly Omit<ShardRequest, 'id'>[]): Promise<ShardReport[]>;
  /** Peak RSS of the largest worker, CPU seconds of all, from their last reports. */
  stats(): { peakRss: number; cpuSeconds: number };
  stop(): Promise<void>;
}

const script = fileURLToPath(new URL('./sweep-worker-process.ts', import.meta.url));

/** Starts `size` worker processes against a DynamoDB endpoint and waits until each is ready. */
export async function startSweepWorkers(size: number, endpoint: string): Promise<SweepWorkers> {
  const profile = process.env.WALWATCH_BENCH_PROFILE;
  const workers: ChildProcess[] = [];
  for (let i = 0; i < size; i++) {
    const child = fork(script, [], {
      execArgv: [
        '--import',
        'tsx',
        ...(profile
          ? ['--cpu-prof', '--cpu-prof-dir', profile, '--heap-prof', '--heap-prof-dir', profile]
          : []),
      ],
      env: { ...process.env, WALWATCH_BENCH_DYNAMO_ENDPOINT: endpoint },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    workers.push(child);
  }
  await Promise.all(
    workers.map((child) => new Promise<void>((resolve) => child.once('message', () => resolve()))),
  );
  const idle = [...workers];
  const last = new Map<ChildProcess, ShardReport>();
  let nextId = 0;
  const run = (child: ChildProcess, request: ShardRequest) =>
    new Promise<ShardReport>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`sweep worker exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (report: ShardReport) => {
        child.off('exit', onExit);
        last.set(child, report);
        resolve(report);
      });
      child.send(request);
    });
  return {
    size,
    sweep: (shards) =>
      pMap(
        shards,
        async (shard) => {
          const child = idle.pop() as ChildProcess;
          try {
            return await run(child, { ...shard, id: nextId++ });
          } finally {
            idle.push(child);
          }
        },
        { concurrency: size },
      ),
    stats: () => ({
      peakRss: Math.max(0, ...[...last.values()].map((report) => report.peakRss)),
      cpuSeconds: [...last.values()].reduce((sum, report) => sum + report.cpuSeconds, 0),
    }),
    stop: async () => {
      await Promise.all(
        workers.map(
          (child) =>
            new Promise<void>((resolve) => {
              child.once('exit', () => resolve());
              child.send('stop');
            }),
        ),
      );
    },
  };
}
