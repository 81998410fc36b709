/**
 * The local monitor's dashboard with an API token, in Debian's Chromium: the page opened from the link
 * `walwatch serve` prints (`/#token=…`) keeps the token in the tab, drops it from the address bar, sends it
 * on every request (reads and the acknowledgement POST) and keeps working after a reload; a tab without
 * the token says what to do. Real monitor over a folder archive with a gap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContentPolicy } from '../../shared/config/content-policy.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { generateArchive } from '../support/archive-generator.js';
import { writeGeneratedObjects } from '../support/folder-archive.js';

const CHROMIUM = process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium';
const CLUSTER = 'spilo/tokened/wal/15';
const TOKEN = 'Vd7kQ2xLm9-Rt4pZsW8nYc';
const GAP = '000000010000000000000006-000000010000000000000006';

describe('dashboard of a monitor with an API token', () => {
  let root: string;
  let monitor: LocalMonitor;
  let browser: Browser;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-dashboard-token-'));
    const archive = join(root, 'archive');
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
    monitor = await startLocalMonitor({
      dataDir: join(root, 'data'),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: 16 * 1024 * 1024,
      readContent: parseContentPolicy('off', '--content'),
      sweepIntervalMs: 3_600_000,
      apiToken: TOKEN,
      log: () => undefined,
    });
    await monitor.syncNow();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await monitor?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('takes the token from the link, hides it, sends it, and keeps it over a reload', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const sentAuthorization: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/clusters'))
        sentAuthorization.push(request.headers().authorization ?? '');
    });
    await page.goto(`${monitor.url}/#token=${TOKEN}`);
    await page.locator(`tr[data-cluster="${CLUSTER}"]`).waitFor();
    expect(page.url()).toBe(`${monitor.url}/#/`);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(1);
    expect(sentAuthorization.length).toBeGreaterThan(0);
    expect(new Set(sentAuthorization)).toEqual(new Set([`Bearer ${TOKEN}`]));

    await page.goto(`${monitor.url}/#/clusters/${encodeURIComponent(CLUSTER)}`);
    await page.reload();
    const row = page.locator(`[data-section="gaps"] tr[data-gap="${GAP}"]`);
    await row.getByRole('textbox').fill('segment 6 was lost with the old volume');
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 5_000 }).toBe('acknowledged');
    await context.close();
  });

  it('says the token is needed in a tab opened without it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${monitor.url}/`);
    const connection = page.getByRole('status');
    await expect.poll(() => connection.getAttribute('data-state')).toBe('error');
    expect(await connection.textContent()).toMatch(/API error 401.*needs its API token.*#token=/);
    await context.close();
  });
});
