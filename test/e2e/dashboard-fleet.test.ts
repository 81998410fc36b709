/**
 * The fleet view with 10,000 clusters in Debian's Chromium (playwright-core): the fixture server's real
 * API router over a memory store holding 10,000 synthetic summary rows besides the fixture clusters.
 */
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, startDashboardServer } from '../support/dashboard-server.js';
import { syntheticFleetRow } from '../support/fleet-rows.js';

const CHROMIUM = process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium';
const FLEET_SIZE = 10_000;
const FIXTURES = 4;

let server: DashboardServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const now = Date.now();
  const fleet = Array.from({ length: FLEET_SIZE }, (_, n) => syntheticFleetRow(n + 1, now));
  [server, browser] = await Promise.all([
    startDashboardServer({ fleet }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    }),
  ]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const rows = () => page.locator('tr[data-cluster]');
const ids = () => rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-cluster')));

describe('dashboard fleet view with 10,000 clusters', () => {
  it('shows the counts of the whole fleet and one page of 100 rows, and pages on', async () => {
    await page.goto(server.url);
    await expect.poll(() => rows().count()).toBe(100);
    const summary = page.locator('.fleet-summary');
    await expect.poll(() => summary.getAttribute('data-total')).toBe(String(FLEET_SIZE + FIXTURES));
    expect(await summary.textContent()).toMatch(/^10004 clusters: \d+ critical, \d+ warning, \d+ OK$/);
    const first = await ids();
    await page.locator('[data-action="next"]').click();
    await expect.poll(async () => (await ids())[0]).not.toBe(first[0]);
    expect((await ids()).filter((id) => first.includes(id))).toEqual([]);
    await page.locator('[data-action="previous"]').click();
    await expect.poll(ids).toEqual(first);
  });

  it('searches ids and filters by status through the API', async () => {
    await page.goto(server.url);
    await expect.poll(() => rows().count()).toBe(100);
    await page.locator('input[name="q"]').fill('orders-eu-123');
    // orders-eu-123, orders-eu-1238, … : every shown id holds the text.
    await expect.poll(async () => (await ids()).every((id) => id?.includes('orders-eu-123'))).toBe(true);
    expect(await rows().count()).toBeGreaterThan(0);
    expect(await rows().count()).toBeLessThan(20);

    await page.locator('input[name="q"]').fill('');
    await page.locator('select[name="status"]').selectOption('warning');
    await expect
      .poll(
        async () =>
          new Set(await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')))),
      )
      .toEqual(new Set(['warning']));
    expect(await rows().count()).toBe(100);
  });

  it('keeps unchanged rows as they are between polls (304s and in-place updates)', async () => {
    await page.goto(server.url);
    await expect.poll(() => rows().count()).toBe(100);
    const marked = await page.evaluate(() => {
      const tr = document.querySelectorAll('tr[data-cluster]')[50] as HTMLElement & { marked?: boolean };
      tr.marked = true;
      return tr.getAttribute('data-cluster');
    });
    const statuses: number[] = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/clusters') statuses.push(response.status());
    });
    await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(statuses).toContain(304);
    const kept = await page.evaluate(
      (id) =>
        (document.querySelector(`tr[data-cluster="${id}"]`) as (HTMLElement & { marked?: boolean }) | null)
          ?.marked === true,
      marked,
    );
    expect(kept).toBe(true);
  });
});
