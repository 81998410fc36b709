/**
 * Who may talk to the local monitor: requests naming another host (DNS rebinding), pages of other origins
 * and `text/plain` POSTs (cross-site request forgery) are refused; with an API token every route but the
 * dashboard's files and `/healthz` needs it; listening beyond loopback needs one; traversal shapes, unknown
 * routes and methods get JSON errors; bodies are capped while they stream. Real HTTP on loopback against
 * the monitor over a folder archive with a gap.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as serve } from '../../cli/serve.js';
import { MAX_API_BODY_BYTES } from '../../shared/api/router.js';
import { parseContentPolicy } from '../../shared/config/content-policy.js';
import { AccessPolicyError } from '../../shared/local/access-policy.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { generateArchive } from '../support/archive-generator.js';
import { writeGeneratedObjects } from '../support/folder-archive.js';
import { rawRequest, socketRequest, streamUntilAnswered } from '../support/raw-http.js';

const CLUSTER = 'spilo/guarded/wal/15';
const TOKEN = 'k3Jx9-QvT2mWz8LpR4nYb7';
const GAP = '000000010000000000000006-000000010000000000000006';
const clusterPath = `/clusters/${encodeURIComponent(CLUSTER)}`;
const ackPath = `${clusterPath}/gaps/${GAP}/ack`;

describe('local monitor access', () => {
  let root: string;
  let archive: string;
  let open: LocalMonitor;
  let guarded: LocalMonitor;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  const start = (name: string, extra: Partial<Parameters<typeof startLocalMonitor>[0]> = {}) =>
    startLocalMonitor({
      dataDir: join(root, name),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: 16 * 1024 * 1024,
      readContent: parseContentPolicy('off', '--content'),
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
      ...extra,
    });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-access-'));
    archive = join(root, 'archive');
    await writeGeneratedObjects(
      archive,
      generateArchive({
        clusterId: CLUSTER,
        segmentSize: 16 * 1024 * 1024,
        segments: 12,
        switches: [],
        backups: [1],
        holes: [5],
        startAt: Date.now() - 3 * 3_600_000,
      }),
    );
    open = await start('open');
    guarded = await start('guarded', {
      apiToken: TOKEN,
      allowHosts: ['walwatch.internal'],
      allowOrigins: ['https://dash.example.com'],
    });
    await open.syncNow();
    await guarded.syncNow();
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const acknowledged = async (monitor: LocalMonitor, headers: Record<string, string> = {}) => {
    const response = await rawRequest(monitor.url, { path: `${clusterPath}/gaps`, headers });
    const gaps = (JSON.parse(response.text) as { gaps: Array<{ id: string; status: string }> }).gaps;
    return gaps.find((gap) => gap.id === GAP)?.status === 'acknowledged';
  };

  describe('Host and Origin', () => {
    it.each([
      ['evil.example', 'a rebound DNS name'],
      ['evil.example:80', 'a rebound DNS name with a port'],
      ['127.0.0.1:1', 'another port'],
    ])('refuses Host %j (%s) on every route, the dashboard included', async (host, _why) => {
      for (const path of ['/', '/clusters', clusterPath, '/metrics', '/healthz']) {
        const response = await rawRequest(open.url, { path, headers: { host } });
        expect(response.status, path).toBe(403);
        expect(JSON.parse(response.text)).toMatchObject({ error: { code: 'forbidden' } });
      }
    });

    it('refuses a request without Host (HTTP/1.0) or with an empty one', async () => {
      for (const request of [
        'GET /clusters HTTP/1.0\r\n\r\n',
        'GET / HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n',
      ]) {
        const response = await socketRequest(open.url, request);
        expect(response.status).toBe(403);
        expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'forbidden' } });
      }
    });

    it('answers the loopback names and allowed hosts with the port it listens on', async () => {
      const port = new URL(open.url).port;
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
        expect((await rawRequest(open.url, { path: '/clusters', headers: { host } })).status, host).toBe(200);
      }
      const viaName = await rawRequest(guarded.url, {
        path: '/clusters',
        headers: { host: 'walwatch.internal', ...bearer },
      });
      expect(viaName.status).toBe(200);
    });

    it('refuses a POST from another page, whatever its content type, and records nothing', async () => {
      for (const type of ['text/plain', 'application/json']) {
        const response = await rawRequest(open.url, {
          method: 'POST',
          path: ackPath,
          headers: { origin: 'https://evil.example', 'content-type': type },
          body: JSON.stringify({ reason: 'silenced by a web page' }),
        });
        expect(response.status).toBe(403);
      }
      const sandboxed = await rawRequest(open.url, {
        method: 'POST',
        path: ackPath,
        headers: { origin: 'null', 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'silenced from a sandboxed frame' }),
      });
      expect(sandboxed.status).toBe(403);
      expect(await acknowledged(open)).toBe(false);
    });

    it('refuses a text/plain POST (no preflight needed) with 415 even without an Origin', async () => {
      const response = await rawRequest(open.url, {
        method: 'POST',
        path: ackPath,
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: JSON.stringify({ reason: 'simple request' }),
      });
      expect(response.status).toBe(415);
      expect(await acknowledged(open)).toBe(false);
    });

    it('answers its own origin, and an allowed origin with CORS headers and preflights', async () => {
      const own = await rawRequest(open.url, { path: '/clusters', headers: { origin: open.url } });
      expect(own.status).toBe(200);
      const preflight = await rawRequest(guarded.url, {
        method: 'OPTIONS',
        path: ackPath,
        headers: {
          origin: 'https://dash.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://dash.example.com');
      expect(String(preflight.headers['access-control-allow-headers'])).toContain('authorization');
      const read = await rawRequest(guarded.url, {
        path: '/clusters',
        headers: { origin: 'https://dash.example.com', ...bearer },
      });
      expect(read.status).toBe(200);
      expect(read.headers['access-control-allow-origin']).toBe('https://dash.example.com');
    });
  });

  describe('the API token', () => {
    it.each([
      [{}, 401, 'no header'],
      [{ authorization: 'Bearer wrong-token-of-enough-length' }, 401, 'a wrong token'],
      [{ authorization: TOKEN }, 400, 'the token without Bearer'],
      [{ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, 400, 'another scheme'],
    ])('refuses %j with %i (%s) on the API and /metrics', async (headers, status, _why) => {
      for (const path of ['/clusters', clusterPath, '/metrics', `/clusters?token=${TOKEN}`]) {
        const response = await rawRequest(guarded.url, { path, headers });
        expect(response.status, path).toBe(status);
        expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(JSON.parse(response.text)).toMatchObject({ error: { code: 'unauthorized' } });
      }
    });

    it('answers with the token, and serves the dashboard files and /healthz without it', async () => {
      expect((await rawRequest(guarded.url, { path: '/metrics', headers: bearer })).status).toBe(200);
      for (const path of ['/', '/dashboard.js', '/dashboard.css', '/healthz'])
        expect((await rawRequest(guarded.url, { path })).status, path).toBe(200);
    });

    it('acknowledges with the token and a JSON body only', async () => {
      const body = JSON.stringify({ reason: 'segment 6 lost with the old volume' });
      const without = await rawRequest(guarded.url, {
        method: 'POST',
        path: ackPath,
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(without.status).toBe(401);
      expect(await acknowledged(guarded, bearer)).toBe(false);
      const signed = await rawRequest(guarded.url, {
        method: 'POST',
        path: ackPath,
        headers: { 'content-type': 'application/json', ...bearer },
        body,
      });
      expect(signed.status).toBe(200);
      expect(await acknowledged(guarded, bearer)).toBe(true);
    });

    it('is required beyond loopback: the monitor refuses to start and creates nothing', async () => {
      const dataDir = join(root, 'exposed');
      await expect(start('exposed', { host: '0.0.0.0' })).rejects.toThrow(AccessPolicyError);
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
      const stderr: string[] = [];
      const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        stderr.push(String(chunk));
        return true;
      });
      try {
        const code = await serve(['--dir', archive, '--data', dataDir, '--listen', '0.0.0.0:0']);
        expect(code).toBe(3);
      } finally {
        spy.mockRestore();
      }
      expect(stderr).toHaveLength(1);
      expect(stderr[0]).toMatch(/^walwatch serve: listening on 0\.0\.0\.0 .*--api-token/);
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('refuses a token too short or that a bearer header cannot carry', async () => {
      await expect(start('short', { apiToken: 'abc' })).rejects.toThrow(/at least 16 characters/);
      await expect(start('spaces', { apiToken: 'a token with spaces' })).rejects.toThrow(AccessPolicyError);
    });
  });

  describe('paths, routes and bodies', () => {
    it.each([
      '/clusters/%2e%2e',
      '/clusters/..',
      '/clusters/%2E%2e/clusters',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/dashboard.js/%2e%2e',
      '/clusters/.',
    ])('refuses the traversal shape %s with a JSON 400, never the dashboard', async (path) => {
      const response = await rawRequest(open.url, { path });
      expect(response.status).toBe(400);
      expect(response.headers['content-type']).toContain('application/json');
      expect(response.text).not.toContain('<');
    });

    it('refuses a path with backslashes, which URL parsing reads as slashes', async () => {
      const response = await rawRequest(open.url, { path: '/clusters\\..\\' });
      expect(response.status).toBe(400);
      expect(response.text).not.toContain('<');
    });

    it('still reads cluster ids with encoded slashes and dots inside a segment', async () => {
      const response = await rawRequest(open.url, {
        path: `/clusters/${encodeURIComponent('spilo/../x')}`,
      });
      expect(response.status).toBe(404);
      expect(JSON.parse(response.text)).toMatchObject({ error: { code: 'not-found' } });
    });

    it('answers unknown routes with a JSON 404 and known paths with another method with 405 and Allow', async () => {
      const missing = await rawRequest(open.url, { path: '/admin' });
      expect(missing.status).toBe(404);
      expect(JSON.parse(missing.text)).toEqual({
        error: { code: 'not-found', message: 'no route GET /admin' },
      });
      for (const [method, path, allow] of [
        ['DELETE', '/healthz', 'GET, HEAD'],
        ['POST', '/metrics', 'GET, HEAD'],
        ['GET', '/webhook/s3', 'POST'],
        ['DELETE', clusterPath, 'GET, HEAD'],
        ['GET', ackPath, 'POST'],
      ] as const) {
        const response = await rawRequest(open.url, {
          method,
          path,
          ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}),
        });
        expect(response.status, `${method} ${path}`).toBe(405);
        expect(response.headers.allow).toBe(allow);
        expect(JSON.parse(response.text)).toMatchObject({ error: { code: 'method-not-allowed' } });
      }
    });

    it('refuses an endless streamed body with 413 once it passes the cap, without reading it to the end', async () => {
      const answer = await streamUntilAnswered(open.url, {
        path: ackPath,
        headers: { 'content-type': 'application/json' },
      });
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'payload-too-large' } });
      // Answered while the body was still streaming: a few socket buffers beyond the cap, not all of it.
      expect(answer.sentBytes).toBeGreaterThan(MAX_API_BODY_BYTES);
      expect(await acknowledged(open)).toBe(false);
    });
  });
});
