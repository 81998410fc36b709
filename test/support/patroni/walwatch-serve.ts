import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClusterReport } from '../../../shared/core/report.js';
import { sleep } from './processes.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** `walwatch serve` as a user runs it, in its own process, with the given options. */
export class WalwatchServe {
  private child: ChildProcess | undefined;
  private stderr = '';
  /** The API's base URL once started. */
  url = '';

  constructor(
    private readonly args: readonly string[],
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  /** Starts `walwatch serve <args> --listen 127.0.0.1:0` and waits until it prints its API address. */
  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), 'serve', ...this.args, '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT, env: { ...process.env, ...this.env } },
    );
    this.child = child;
    this.url = await new Promise<string>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
        const match = /API\s+(http:\/\/\S+)\/clusters/.exec(this.stderr);
        if (match) resolve(match[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`walwatch serve exited with ${code}:\n${this.stderr}`)));
    });
  }

  /** What the monitor printed on stderr (alerts, notices), the last 20 kB. */
  get output(): string {
    return this.stderr;
  }

  /** Stops the monitor (SIGTERM, SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    if (await Promise.race([exited.then(() => false), sleep(5_000).then(() => true)])) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** `GET /clusters/<id>`, or `undefined` while the cluster is unknown. */
  async report(clusterId: string): Promise<ClusterReport | undefined> {
    const response = await fetch(`${this.url}/clusters/${encodeURIComponent(clusterId)}`);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`GET /clusters/${clusterId}: ${response.status}`);
    return ((await response.json()) as { cluster: ClusterReport }).cluster;
  }
}

/**
 * Copies every new or changed file of a folder into an S3 bucket as it appears (polling), as WAL-G's
 * uploads reach S3: one PUT per object, so the bucket's notifications follow the archive live. Returns a
 * function that stops it after one last pass.
 */
export function mirrorFolderToBucket(options: {
  readonly folder: string;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly intervalMs?: number;
}): () => Promise<void> {
  const uploaded = new Map<string, string>();
  const pass = async (): Promise<void> => {
    const entries = await readdir(options.folder, { recursive: true, withFileTypes: true });
    for (const entry of entries.filter((e) => e.isFile())) {
      const path = join(entry.parentPath, entry.name);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      const version = `${info.size}:${info.mtimeMs}`;
      const key = relative(options.folder, path).split(sep).join('/');
      if (uploaded.get(key) === version) continue;
      await options.s3.send(
        new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: await readFile(path) }),
      );
      uploaded.set(key, version);
    }
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await pass().catch(() => undefined);
      await sleep(options.intervalMs ?? 300);
    }
    await pass();
  })();
  return async () => {
    running = false;
    await loop;
  };
}
