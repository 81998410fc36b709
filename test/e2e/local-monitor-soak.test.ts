/**
 * Soak under hostile input: a real `walwatch serve` process (dynalite store, folder source, an API token)
 * is driven with the inputs of a careless or hostile client — other hosts and origins, missing and malformed
 * tokens, `text/plain` POSTs, impossible dates, empty targets, traversal shapes, unknown routes and methods,
 * competing acknowledgements, fuzzed paths and bodies, 200 MB bodies streamed or declared — while a healthy
 * cluster keeps archiving into the folder and careless files land beside it: a 2,100-byte path, a cluster
 * id longer than the table holds, a segment stamped 2099 and an empty segment. At the end the monitor's view equals a full analysis of the
 * folder, no answer was a 500, and the process's peak resident memory stayed under a bound. Loopback only,
 * bounded in requests and time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import { analyzeArchive } from '../../shared/sources/analyze-archive.js';
import { openDirSource } from '../../shared/sources/dir-source.js';
import { type GeneratedObject, generateArchive } from '../support/archive-generator.js';
import { writeGeneratedObject, writeGeneratedObjects } from '../support/folder-archive.js';
import { rawRequest, streamUntilAnswered } from '../support/raw-http.js';

const ROOT = join(import.meta.dirname, '..', '..');
const TOKEN = 'soak-9f3Kd2LqW7xZp4Rv8T';
const SEGMENT_SIZE = 16 * 1024 * 1024;
const HEALTHY = 'spilo/healthy/wal/15';
const GAPPY = 'spilo/gappy/wal/15';
const GAP = '000000010000000000000004-000000010000000000000004';
/** Peak resident memory allowed to the monitor process; six 200 MB bodies buffered would pass it. */
const MEMORY_BOUND_BYTES = 384 * 1024 * 1024;
/** Hostile requests sent, in rounds, while the healthy cluster archives. */
const HOSTILE_ROUNDS = 6;

interface Probe {
  readonly name: string;
  readonly send: (url: string) => Promise<{ status: number; text: string }>;
  /** The status the probe must get, or undefined for fuzz (then only: below 500). */
  readonly expect?: number;
}

const FIRST_REASON = '{"reason":"segment 4 lost with the old volume"}';
const bearer = { authorization: `Bearer ${TOKEN}` };
const enc = encodeURIComponent;

function hostileProbes(): Probe[] {
  const gappy = `/clusters/${enc(GAPPY)}`;
  const ack = `${gappy}/gaps/${GAP}/ack`;
  const get =
    (path: string, headers: Record<string, string> = bearer) =>
    (url: string) =>
      rawRequest(url, { path, headers });
  const post = (path: string, body: string, headers: Record<string, string>) => (url: string) =>
    rawRequest(url, { method: 'POST', path, headers, body });
  const json = { 'content-type': 'application/json', ...bearer };
  const probes: Probe[] = [
    { name: 'rebound Host', send: get('/clusters', { host: 'evil.example', ...bearer }), expect: 403 },
    { name: 'rebound Host on the page', send: get('/', { host: 'evil.example' }), expect: 403 },
    {
      name: 'POST from another origin',
      send: post(ack, '{"reason":"web page"}', { origin: 'https://evil.example', ...json }),
      expect: 403,
    },
    {
      name: 'text/plain POST',
      send: post(ack, '{"reason":"csrf"}', { 'content-type': 'text/plain', ...bearer }),
      expect: 415,
    },
    { name: 'no token', send: get('/clusters', {}), expect: 401 },
    { name: 'token without Bearer', send: get('/clusters', { authorization: TOKEN }), expect: 400 },
    { name: 'token in the query', send: get(`/clusters?token=${TOKEN}`, {}), expect: 401 },
    {
      name: 'wrong token',
      send: get('/metrics', { authorization: 'Bearer not-the-token-at-all' }),
      expect: 401,
    },
    {
      name: 'impossible date',
      send: get(`${gappy}/restore-plan?target=${enc('2026-02-30T20:00:00Z')}`),
      expect: 400,
    },
    {
      name: 'hour 24',
      send: get(`${gappy}/restore-plan?target=${enc('2026-11-24T24:00:00Z')}`),
      expect: 400,
    },
    { name: 'empty target', send: get(`${gappy}/restore-plan?target=`), expect: 400 },
    { name: 'latest', send: get(`${gappy}/restore-plan?target=latest`), expect: 200 },
    { name: 'traversal', send: get('/clusters/%2e%2e'), expect: 400 },
    { name: 'deep traversal', send: get('/%2e%2e/%2e%2e/%2e%2e/etc/passwd'), expect: 400 },
    { name: 'unknown route', send: get('/admin/config'), expect: 404 },
    {
      name: 'wrong method',
      send: (url) => rawRequest(url, { method: 'DELETE', path: gappy, headers: bearer }),
      expect: 405,
    },
    { name: 'webhook without a bucket', send: post('/webhook/s3', '{}', json), expect: 404 },
    // The first acknowledgement is given before the rounds (see the test); here it is retried.
    { name: 'retried acknowledgement', send: post(ack, FIRST_REASON, json), expect: 200 },
    { name: 'competing acknowledgement', send: post(ack, '{"reason":"nothing to see"}', json), expect: 409 },
    { name: 'metrics', send: get('/metrics'), expect: 200 },
    {
      name: '200 MB streamed body',
      send: (url) => streamUntilAnswered(url, { path: ack, headers: json }),
      expect: 413,
    },
    {
      name: '200 MB streamed webhook body',
      send: (url) => streamUntilAnswered(url, { path: '/webhook/s3', headers: json }),
    },
    {
      name: '200 MB declared body',
      send: (url) => streamUntilAnswered(url, { path: ack, headers: json, declaredBytes: 200 * 1024 * 1024 }),
      expect: 413,
    },
  ];
  const segment = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom(
      enc(HEALTHY),
      enc(GAPPY),
      'clusters',
      'gaps',
      'ack',
      'restore-plan',
      'segments',
      GAP,
      '%2e%2e',
      '..',
      '%',
    ),
  );
  const fuzz = fc.sample(
    fc.record({
      segments: fc.array(segment, { minLength: 1, maxLength: 5 }),
      method: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'OPTIONS'),
      query: fc.string({ maxLength: 30 }),
      body: fc.string({ maxLength: 300 }),
      type: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'),
    }),
    { numRuns: 40, seed: 15 },
  );
  for (const [index, input] of fuzz.entries()) {
    const path = `/${input.segments.map((s) => s.replace(/[^\x21-\x7e]/g, (c) => enc(c))).join('/')}?target=${enc(input.query)}`;
    probes.push({
      name: `fuzz ${index} ${input.method} ${path}`,
      send: (url) =>
        rawRequest(url, {
          method: input.method,
          path,
          headers: { ...bearer, 'content-type': input.type },
          ...(input.method === 'POST' || input.method === 'PUT' ? { body: input.body } : {}),
        }),
    });
  }
  return probes;
}

/**
 * Files a careless or hostile hand puts into the folder: a backup part whose path is longer than any S3 key
 * or table key (folders of 240 bytes, as file systems allow), a segment of a cluster whose id alone is too
 * long for the table, a segment of the gappy cluster stamped 2099, and an empty segment file.
 */
async function writeCarelessFiles(archive: string): Promise<void> {
  const deep = Array.from({ length: 9 }, (_, i) => `${String(i)}${'d'.repeat(239)}`).join('/');
  const longPart = `${HEALTHY}/basebackups_005/base_000000010000000000000030/tar_partitions/${deep}/part_1.tar.lz4`;
  const longRoot = `spilo/${Array.from({ length: 9 }, () => 'c'.repeat(250)).join('/')}/wal/15`;
  const files: Array<{ key: string; bytes: number; at?: Date }> = [
    { key: longPart, bytes: 4096 },
    { key: `${longRoot}/wal_005/000000010000000000000001.lz4`, bytes: 1000 },
    {
      key: `${GAPPY}/wal_005/00000001000000000000000C.lz4`,
      bytes: 1000,
      at: new Date('2099-01-01T00:00:00Z'),
    },
    { key: `${GAPPY}/wal_005/00000001000000000000000B`, bytes: 0 },
  ];
  for (const file of files) {
    const path = join(archive, ...file.key.split('/'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Buffer.alloc(file.bytes, 0x5a));
    if (file.at) await utimes(path, file.at, file.at);
  }
}

/** The parts of a report a full analysis of the same files must give alike (no ages, which move with now). */
function project(report: ClusterReport | undefined) {
  if (!report) return undefined;
  return {
    id: report.id,
    targetTimeline: report.targetTimeline,
    latestRecoverable: report.latestRecoverable,
    earliestRecoverable: report.earliestRecoverable,
    recoverableIntervals: report.recoverableIntervals,
    timelines: report.timelines,
    backups: report.backups,
    gaps: report.gaps.map(({ id, firstSegment, lastSegment, count }) => ({
      id,
      firstSegment,
      lastSegment,
      count,
    })),
  };
}

async function peakResidentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kib) * 1024;
}

describe('walwatch serve under hostile input while a cluster archives', () => {
  let root: string;
  let archive: string;
  let child: ChildProcess | undefined;
  let url: string;
  let stderr = '';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-soak-'));
    archive = join(root, 'archive');
    await writeGeneratedObjects(
      archive,
      generateArchive({
        clusterId: GAPPY,
        segmentSize: SEGMENT_SIZE,
        segments: 10,
        switches: [],
        backups: [1],
        holes: [3],
        startAt: Date.now() - 2 * 3_600_000,
      }),
    );
    child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'walwatch.js'),
        'serve',
        '--dir',
        archive,
        '--data',
        join(root, 'data'),
        '--listen',
        '127.0.0.1:0',
        '--content',
        'off',
        '--sweep-every',
        '2s',
        '--api-token',
        TOKEN,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`walwatch serve did not start:\n${stderr}`)), 30_000);
      child?.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const found = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/clusters/.exec(stderr);
        if (found) {
          clearTimeout(timer);
          resolve(found[1] as string);
        }
      });
      child?.once('exit', (code) => reject(new Error(`walwatch serve exited with ${code}:\n${stderr}`)));
    });
  }, 40_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await rm(root, { recursive: true, force: true });
  });

  it('keeps its state equal to a full analysis, never answers 500 and stays under its memory bound', async () => {
    const healthy = generateArchive({
      clusterId: HEALTHY,
      segmentSize: SEGMENT_SIZE,
      segments: 36,
      switches: [],
      backups: [1, 18],
      startAt: Date.now() - 36 * 60_000,
    }).sort((a, b) => a.at - b.at);
    const archiving = (async () => {
      for (const [index, object] of (healthy as GeneratedObject[]).entries()) {
        await writeGeneratedObject(archive, object);
        if (index === Math.floor(healthy.length / 2)) await writeCarelessFiles(archive);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    // The first acknowledgement, alone: the rounds send their probes four at a time, and a competing reason
    // sent beside it could win the race and become the first.
    const first = await rawRequest(url, {
      method: 'POST',
      path: `/clusters/${enc(GAPPY)}/gaps/${GAP}/ack`,
      headers: { 'content-type': 'application/json', ...bearer },
      body: FIRST_REASON,
    });
    expect([first.status, first.text.slice(0, 200)]).toEqual([200, expect.any(String)]);

    const probes = hostileProbes();
    const answers: Array<{ name: string; status: number; text: string; expected?: number }> = [];
    for (let round = 0; round < HOSTILE_ROUNDS; round++) {
      // Four at a time: a careless script, not a load test.
      for (let i = 0; i < probes.length; i += 4) {
        await Promise.all(
          probes.slice(i, i + 4).map(async (probe) => {
            const answer = await probe.send(url);
            answers.push({
              name: probe.name,
              status: answer.status,
              text: answer.text,
              ...(probe.expect ? { expected: probe.expect } : {}),
            });
          }),
        );
      }
    }
    await archiving;

    expect(answers.filter((a) => a.status >= 500 || a.status === 0)).toEqual([]);
    expect(
      answers
        .filter((a) => a.expected !== undefined && a.status !== a.expected)
        .map((a) => [a.name, a.status, a.text.slice(0, 200)]),
    ).toEqual([]);

    // The first acknowledgement stays, whatever came later.
    const gaps = (
      JSON.parse((await rawRequest(url, { path: `/clusters/${enc(GAPPY)}/gaps`, headers: bearer })).text) as {
        gaps: Array<{ id: string; status: string }>;
      }
    ).gaps;
    expect(gaps.find((gap) => gap.id === GAP)?.status).toBe('acknowledged');
    const competing = answers.filter((a) => a.name === 'competing acknowledgement').map((a) => a.status);
    expect(new Set(competing)).toEqual(new Set([409]));

    const full = await analyzeArchive(await openDirSource(archive), {
      now: Date.now(),
      segmentSizeOf: () => SEGMENT_SIZE,
    });
    for (const id of [HEALTHY, GAPPY]) {
      const expected = project(full.clusters.find((cluster) => cluster.id === id));
      // The watcher folds a change within a second; a full rescan runs every 10 s as a backstop.
      await expect
        .poll(
          async () => {
            const response = await rawRequest(url, { path: `/clusters/${enc(id)}`, headers: bearer });
            return response.status === 200
              ? project((JSON.parse(response.text) as { cluster: ClusterReport }).cluster)
              : response.status;
          },
          { timeout: 15_000, interval: 500 },
        )
        .toEqual(expected);
    }
    expect(full.clusters.find((cluster) => cluster.id === HEALTHY)?.latestRecoverable?.lsn).toBe(
      '0/25000000',
    );

    const peak = await peakResidentBytes(child?.pid as number);
    console.log(
      `walwatch serve peak resident memory: ${(peak / 2 ** 20).toFixed(0)} MiB (bound ${MEMORY_BOUND_BYTES / 2 ** 20} MiB) after ${answers.length} hostile requests`,
    );
    expect(peak).toBeLessThan(MEMORY_BOUND_BYTES);
    // No request reached the error handler, and no file stopped a fold.
    expect(stderr).not.toMatch(/API error|HTTP error|could not fold/);
    // The cluster id the table cannot hold is skipped, and said so.
    expect(stderr).toMatch(/ignored spilo\/c{250}/);
    // A segment stamped 2099 makes no age negative.
    const fleet = JSON.parse((await rawRequest(url, { path: '/clusters', headers: bearer })).text) as {
      clusters: Array<{ id: string; archiveAgeSeconds: number | null; backupAgeSeconds: number | null }>;
    };
    for (const cluster of fleet.clusters) {
      expect(cluster.archiveAgeSeconds ?? 0, cluster.id).toBeGreaterThanOrEqual(0);
      expect(cluster.backupAgeSeconds ?? 0, cluster.id).toBeGreaterThanOrEqual(0);
    }
    const gappyReport = full.clusters.find((cluster) => cluster.id === GAPPY);
    expect(gappyReport?.problems.map((problem) => problem.kind)).toContain('clock-skew');
  }, 60_000);
});
