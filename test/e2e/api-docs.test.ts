/**
 * The local monitor's API reference as a user opens it: `/docs` in Chromium, with no network beyond the
 * monitor, renders every operation of the monitor's own `/openapi.json`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';

const CHROMIUM = process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium';

describe('the API reference at /docs', () => {
  let root: string;
  let monitor: LocalMonitor;
  let browser: Browser;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-docs-'));
    [monitor, browser] = await Promise.all([
      startLocalMonitor({
        dataDir: join(root, 'data'),
        archiveDir: join(root, 'archive'),
        host: '127.0.0.1',
        port: 0,
        segmentSize: 16 * 1024 * 1024,
        sweepIntervalMs: 3_600_000,
        log: () => undefined,
      }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await monitor?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('renders every operation of /openapi.json, loading nothing from outside the monitor', async () => {
    const document = (await (await fetch(`${monitor.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(document.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(operations.length).toBeGreaterThanOrEqual(9);

    const page = await browser.newPage();
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(monitor.url) && !request.url().startsWith('data:'))
        foreign.push(request.url());
    });
    await page.goto(`${monitor.url}/docs`);
    await page.locator('.opblock-summary').first().waitFor({ timeout: 20_000 });
    const shown = await page
      .locator('.opblock-summary')
      .evaluateAll((blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector('.opblock-summary-method')?.textContent?.trim()} ${block
              .querySelector('.opblock-summary-path')
              ?.getAttribute('data-path')}`,
        ),
      );
    expect(shown.sort()).toEqual(operations);
    expect(await page.locator('.info .title').textContent()).toContain('walwatch query API');
    expect(foreign).toEqual([]);
    await page.close();
  });

  it('serves only the reference page and its two assets from the package', async () => {
    for (const path of ['/docs/package.json', '/docs/index.html', '/docs/..%2Fpackage.json'])
      expect((await fetch(`${monitor.url}${path}`)).status, path).toBe(404);
    const css = await fetch(`${monitor.url}/docs/swagger-ui.css`);
    expect(css.headers.get('content-type')).toContain('text/css');
  });
});
