/**
 * The benchmarks' DynamoDB: dynalite in a process of its own, as DynamoDB is to the functions, so what a
 * benchmark measures in its own process (RSS, latency, CPU) is the product's, and the server's own CPU time
 * and peak RSS are read from `/proc` and printed beside it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/store/client.js';
import { describeTable } from '../../shared/store/table.js';

/** Credentials dynalite accepts (it checks none). */
export const BENCH_CREDENTIALS = { accessKeyId: 'walwatch-bench', secretAccessKey: 'walwatch-bench' };
export const BENCH_REGION = 'local';

/** A dynalite server in its own process. */
export interface DynamoProcess {
  readonly endpoint: string;
  readonly pid: number;
  /** A new document client for the server. */
  client(): DynamoDBDocumentClient;
  /** Creates an empty walwatch table. */
  createTable(name: string): Promise<void>;
  /** The server's CPU seconds so far (user + system). */
  cpuSeconds(): number;
  /** The server's peak RSS so far, in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

/** Peak RSS (`VmHWM`) of a Linux process, in bytes; 0 where `/proc` has none. */
export function peakRssOf(pid: number | 'self'): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of a Linux process; 0 where `/proc` has none. */
export function cpuSecondsOf(pid: number | 'self'): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Starts dynalite (in memory) in a child process on a free loopback port. */
export async function startDynamoProcess(): Promise<DynamoProcess> {
  const port = await freePort();
  const cli = createRequire(import.meta.url).resolve('dynalite/cli.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, '--host', '127.0.0.1', '--port', String(port), '--createTableMs', '0', '--deleteTableMs', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const pid = child.pid as number;
  const raw = new DynamoDBClient({ endpoint, region: BENCH_REGION, credentials: BENCH_CREDENTIALS });
  return {
    endpoint,
    pid,
    client: () => createDocumentClient({ endpoint, region: BENCH_REGION, credentials: BENCH_CREDENTIALS }),
    createTable: async (name) => {
      await raw.send(new CreateTableCommand(describeTable(name)));
      for (let attempt = 0; attempt < 200; attempt++) {
        const { Table } = await raw.send(new DescribeTableCommand({ TableName: name }));
        if (Table?.TableStatus === 'ACTIVE') return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`table ${name} did not become active`);
    },
    cpuSeconds: () => cpuSecondsOf(pid),
    peakRss: () => peakRssOf(pid),
    stop: async () => {
      raw.destroy();
      child.removeAllListeners('exit');
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
