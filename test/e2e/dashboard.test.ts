/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the fixture server
 * (the built page, the real API router, cluster states built by the real core). Screenshots go to
 * `test-artifacts/dashboard/`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../shared/core/report.js';
import type { RestorePlan } from '../../shared/core/restore-plan.js';
import {
  CORRUPT_SEGMENT,
  type DashboardServer,
  FIXTURE_CLUSTERS,
  fixtureClosedGaps,
  startDashboardServer,
} from '../support/dashboard-server.js';
import { serveDirectory } from '../support/static-site.js';

const CHROMIUM = process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'dashboard');
/** The page polls every 2 s; a change must show within a few seconds. */
const LIVE_TIMEOUT_MS = 5_000;

let server: DashboardServer;
let browser: Browser | undefined;
/**
 * Why set-up failed (Chromium did not start, the fixture server did not): every test fails with it, so no
 * report can read the run as green with everything skipped.
 */
let setupError: Error | undefined;
let page: Page;
let pageErrors: string[];

async function launchChromium(): Promise<Browser> {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  } catch (error) {
    throw new Error(
      `Chromium did not start from ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) ` +
        `or set WALWATCH_CHROMIUM to its path. Cause: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${server.url}${path}`);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

async function clusterReport(id: string): Promise<ClusterReport> {
  return (await getJson<{ cluster: ClusterReport }>(`/clusters/${encodeURIComponent(id)}`)).cluster;
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function openCluster(id: string): Promise<void> {
  await page.goto(`${server.url}/#/clusters/${encodeURIComponent(id)}`);
  await page.locator('svg.chart').waitFor();
}

beforeAll(async () => {
  try {
    await mkdir(ARTIFACTS, { recursive: true });
    [server, browser] = await Promise.all([startDashboardServer(), launchChromium()]);
  } catch (error) {
    setupError = error as Error;
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

beforeEach(async () => {
  if (setupError || !browser) throw setupError ?? new Error('set-up did not finish');
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
});

afterEach(async () => {
  if (!browser) return;
  await page.close();
  expect(pageErrors).toEqual([]);
});

describe('dashboard fleet view', () => {
  it('lists clusters worst first with status words, recoverable points and ages', async () => {
    await page.goto(server.url);
    const rows = page.locator('tr[data-cluster]');
    await expect.poll(() => rows.count()).toBe(4);

    // Both critical; the one with nothing restorable at all first.
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-cluster')))).toEqual([
      FIXTURE_CLUSTERS.unrestorable,
      FIXTURE_CLUSTERS.critical,
      FIXTURE_CLUSTERS.warning,
      FIXTURE_CLUSTERS.ok,
    ]);
    expect(await rows.locator('[data-field="status"]').allTextContents()).toEqual([
      'Critical',
      'Critical',
      'Warning',
      'OK',
    ]);

    const fleet = await getJson<{
      clusters: Array<{ id: string; gaps: number; latestRecoverable: { lsn: string } | null }>;
    }>('/clusters');
    expect(fleet.clusters).toHaveLength(4);
    for (const cluster of fleet.clusters) {
      const row = page.locator(`tr[data-cluster="${cluster.id}"]`);
      expect(await row.locator('[data-field="latest"]').textContent()).toContain(
        cluster.latestRecoverable?.lsn ?? 'nothing restorable',
      );
      expect(await row.locator('[data-field="gaps"]').textContent()).toBe(String(cluster.gaps));
    }
    const ok = page.locator(`tr[data-cluster="${FIXTURE_CLUSTERS.ok}"]`);
    expect(await ok.locator('[data-field="archive-age"]').textContent()).toMatch(/^1 min( \d+ s)? ago$/);
    const warning = page.locator(`tr[data-cluster="${FIXTURE_CLUSTERS.warning}"]`);
    expect(await warning.locator('[data-field="backup-age"]').textContent()).toMatch(/^1 d 3 h ago$/);
    await expect.poll(() => page.title()).toBe('walwatch · Critical');
    await screenshot('fleet');
  });

  it('redraws with fresh data every few seconds and keeps keyboard focus on the same cluster', async () => {
    await page.goto(server.url);
    const link = page.getByRole('link', { name: FIXTURE_CLUSTERS.warning });
    await link.focus();
    const updated = page.locator('.updated');
    await expect.poll(() => updated.textContent()).toMatch(/^data of \d\d:\d\d:\d\d UTC$/);
    const first = await updated.textContent();
    await expect.poll(() => updated.textContent(), { timeout: LIVE_TIMEOUT_MS }).not.toBe(first);
    expect(
      await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-cluster')),
    ).toBe(FIXTURE_CLUSTERS.warning);
    expect(await page.locator('.connection').textContent()).toBe('Live, refreshed every 2 s');
  });
});

describe('dashboard cluster view', () => {
  it('draws intervals, gaps, backups, timeline switches, the latest recoverable point and now', async () => {
    await page.goto(server.url);
    await page.getByRole('link', { name: FIXTURE_CLUSTERS.critical }).click();
    await page.locator('svg.chart').waitFor();
    const report = await clusterReport(FIXTURE_CLUSTERS.critical);
    const chart = page.locator('svg.chart');

    expect(await chart.getAttribute('data-mode')).toBe('time');
    expect(await chart.locator('[data-kind="interval"]').count()).toBe(report.recoverableIntervals.length);
    expect(report.recoverableIntervals).toHaveLength(2);
    expect(
      await chart.locator('[data-kind="gap"]').evaluateAll((gaps) => gaps.map((g) => g.dataset.gap)),
    ).toEqual(report.gaps.map((gap) => gap.id));
    expect(
      await chart
        .locator('[data-kind="backup"]')
        .evaluateAll((points) => points.map((p) => p.dataset.status)),
    ).toEqual(report.backups.map((backup) => backup.status));
    expect(await chart.locator('[data-kind="switch"]').count()).toBe(
      report.timelines.filter((t) => t.inLineage && t.switchLsn !== null).length,
    );
    expect(await chart.locator('[data-kind="timeline"]').count()).toBe(2);
    await expect
      .poll(() => chart.locator('[data-kind="lrp"] text').textContent())
      .toContain(report.latestRecoverable?.lsn);

    // Geometry: the older gap lies between the two bands, the critical gap at the latest recoverable point,
    // and "now" to the right of it with the lag shaded in between.
    const box = (selector: string) =>
      chart.locator(selector).evaluateAll((nodes) =>
        nodes.map((node) => {
          const { x, width } = (node as SVGGraphicsElement).getBBox();
          return { left: x, right: x + width, middle: x + width / 2 };
        }),
      );
    const [first, second] = await box('[data-kind="interval"]');
    const [olderGap, cuttingGap] = await box('[data-kind="gap"] rect');
    const [lrp] = await box('[data-kind="lrp"] line');
    const [now] = await box('[data-kind="now"] line');
    const [lag] = await box('[data-kind="lag"]');
    if (!first || !second || !olderGap || !cuttingGap || !lrp || !now || !lag)
      throw new Error('marks missing');
    expect(first.right).toBeLessThanOrEqual(olderGap.middle);
    expect(olderGap.middle).toBeLessThanOrEqual(second.left);
    expect(Math.abs(cuttingGap.left - lrp.middle)).toBeLessThan(1);
    expect(Math.abs(second.right - lrp.middle)).toBeLessThan(1);
    expect(now.middle).toBeGreaterThan(lrp.middle);
    expect(lag.left).toBeCloseTo(lrp.middle, 0);
    expect(lag.right).toBeCloseTo(now.middle, 0);
    await screenshot('cluster-critical');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot('cluster-critical-dark');
  });

  it('shows what the content scan found in a corrupt segment, on request', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);
    const item = page.locator('[data-section="problems"] li[data-kind="wal-corrupt"]');
    expect(await item.textContent()).toContain('00000001000000000000000A');
    await item.getByRole('button', { name: 'Segment details' }).click();
    const details = item.locator('dl.segment-summary');
    await details.waitFor();
    const text = await details.textContent();
    expect(text).toContain(CORRUPT_SEGMENT.defect?.stopLsn);
    expect(text).toContain('corrupt');
    expect(text).toContain(CORRUPT_SEGMENT.key);
    expect(text).toContain('4711');
    await screenshot('cluster-corrupt-segment');
  });

  it('lists timelines with switch points, backups with status, problems and gaps', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);
    const report = await clusterReport(FIXTURE_CLUSTERS.critical);

    const timelines = page.locator('[data-section="timelines"] tr[data-timeline]');
    expect(await timelines.count()).toBe(report.timelines.length);
    expect(await page.locator('[data-section="timelines"] tr[data-timeline="2"]').textContent()).toContain(
      '0/150001A0',
    );
    const backups = page.locator('[data-section="backups"] tr[data-backup]');
    expect(
      await backups.evaluateAll((rows) => rows.map((r) => [r.dataset.backup, r.dataset.status])),
    ).toEqual([...report.backups].reverse().map((b) => [b.name, b.status]));
    expect(await page.locator('[data-section="backups"]').textContent()).toContain('Missing WAL');
    const problems = page.locator('[data-section="problems"] li');
    expect(await problems.evaluateAll((items) => items.map((li) => li.dataset.kind))).toEqual([
      'wal-gap',
      'wal-gap',
      'wal-corrupt',
      'backup-missing-wal',
    ]);
    expect(await problems.first().getAttribute('data-severity')).toBe('critical');
    expect(await page.locator('[data-section="gaps"] tr[data-gap]').count()).toBe(report.gaps.length);
    expect(await page.locator('[data-section="summary"] [data-field="latest"] code').textContent()).toBe(
      report.latestRecoverable?.lsn,
    );
  });

  it('says nothing is recoverable for a cluster without a restorable backup', async () => {
    await openCluster(FIXTURE_CLUSTERS.unrestorable);
    const chart = page.locator('svg.chart');
    // No backup gives no (LSN, time) pair: the chart falls back to an LSN axis without "now".
    expect(await chart.getAttribute('data-mode')).toBe('lsn');
    expect(await chart.locator('[data-kind="interval"], [data-kind="lrp"], [data-kind="now"]').count()).toBe(
      0,
    );
    expect(await chart.locator('[data-kind="nothing-recoverable"]').count()).toBe(1);
    expect(await chart.locator('[data-kind="timeline"]').count()).toBe(1);
    expect(await page.locator('[data-section="summary"] [data-field="latest"]').textContent()).toContain(
      'nothing restorable',
    );
    await page.getByRole('button', { name: 'Latest' }).click();
    const result = page.locator('.restore-result');
    await expect.poll(() => result.getAttribute('data-state')).toBe('unreachable');
    expect(await result.textContent()).toContain('no backup of this cluster can be restored');
    await screenshot('cluster-unrestorable');
  });

  it('shows a clear message for an unknown cluster', async () => {
    await page.goto(`${server.url}/#/clusters/${encodeURIComponent('spilo/nobody/wal/15')}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('no cluster "spilo/nobody/wal/15"');
    pageErrors = pageErrors.filter((message) => !message.includes('404'));
  });
});

describe('dashboard restore plan', () => {
  async function planFor(target: string): Promise<{ state: string | null; text: string }> {
    await page.locator('#restore-target').fill(target);
    await page.getByRole('button', { name: 'Plan restore' }).click();
    const result = page.locator('.restore-result');
    await expect.poll(() => result.getAttribute('data-state')).not.toBe('loading');
    return { state: await result.getAttribute('data-state'), text: (await result.textContent()) ?? '' };
  }

  async function apiPlan(target: string): Promise<RestorePlan> {
    const id = encodeURIComponent(FIXTURE_CLUSTERS.critical);
    return getJson<RestorePlan>(`/clusters/${id}/restore-plan?target=${encodeURIComponent(target)}`);
  }

  it('round-trips reachable and unreachable targets and shows the settings', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);

    const reachable = await planFor('0/7000000');
    const expected = await apiPlan('0/7000000');
    expect(reachable.state).toBe('reachable');
    expect(await page.locator('[data-field="verdict"]').textContent()).toBe('Reachable');
    expect(await page.locator('[data-field="backup"]').textContent()).toBe(expected.backup);
    expect(await page.locator('[data-field="timeline"]').textContent()).toBe(String(expected.timeline));
    const env = await page.locator('[data-field="spilo-env"]').textContent();
    expect(env).toContain('CLONE_METHOD=CLONE_WITH_WALE');
    expect(env).toContain('CLONE_SCOPE=superman');
    expect(await page.locator('[data-field="walg-steps"]').textContent()).toContain(
      `wal-g backup-fetch "$PGDATA" ${expected.backup}`,
    );
    await screenshot('restore-plan-reachable');

    // Inside the older gap: between the two recoverable intervals.
    const inGap = await planFor('0/9800000');
    expect(inGap.state).toBe('unreachable');
    expect(inGap.text).toContain('Not reachable');
    expect(inGap.text).toContain((await apiPlan('0/9800000')).reason);
    expect(inGap.text).toContain('gap');

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const late = await planFor(future);
    expect(late.state).toBe('unreachable');
    expect(late.text).toContain('after all archived WAL');
    await screenshot('restore-plan-unreachable');

    const invalid = await planFor('yesterday');
    expect(invalid.state).toBe('error');
    expect(invalid.text).toContain('target must be "latest"');
    pageErrors = pageErrors.filter((message) => !message.includes('400'));
  });

  it('plans a restore to the time clicked on the chart', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);
    const band = page.locator('svg.chart [data-kind="interval"]').nth(1);
    await band.click();
    const result = page.locator('.restore-result');
    await expect.poll(() => result.getAttribute('data-state')).toBe('reachable');
    const target = await page.locator('#restore-target').inputValue();
    expect(target).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    const report = await clusterReport(FIXTURE_CLUSTERS.critical);
    const interval = report.recoverableIntervals[1];
    expect(Date.parse(target)).toBeGreaterThanOrEqual(Date.parse(interval?.fromTime ?? ''));
    expect(Date.parse(target)).toBeLessThanOrEqual(Date.parse(interval?.toTime ?? ''));
  });
});

describe('dashboard live updates', () => {
  it('shows newly archived WAL in the fleet and the cluster view without a reload', async () => {
    await page.goto(server.url);
    const okRow = page.locator(`tr[data-cluster="${FIXTURE_CLUSTERS.ok}"]`);
    await okRow.waitFor();
    const before = await okRow.locator('[data-field="latest"] code').textContent();
    await page.evaluate(() => {
      (window as unknown as { sameDocument: boolean }).sameDocument = true;
    });

    server.archiveMore(FIXTURE_CLUSTERS.ok, 3);
    const after = (await clusterReport(FIXTURE_CLUSTERS.ok)).latestRecoverable?.lsn;
    expect(after).not.toBe(before);
    await expect
      .poll(() => okRow.locator('[data-field="latest"] code').textContent(), { timeout: LIVE_TIMEOUT_MS })
      .toBe(after);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
    await screenshot('fleet-after-update');

    // The cluster view updates in place and keeps what the operator is typing.
    await page.getByRole('link', { name: FIXTURE_CLUSTERS.ok }).click();
    await page.locator('svg.chart').waitFor();
    await page.locator('#restore-target').fill('0/4000000');
    const backupsBefore = await page.locator('svg.chart [data-kind="backup"]').count();
    server.archiveMore(FIXTURE_CLUSTERS.ok, 2);
    const latest = (await clusterReport(FIXTURE_CLUSTERS.ok)).latestRecoverable?.lsn;
    await expect
      .poll(() => page.locator('[data-section="summary"] [data-field="latest"] code').textContent(), {
        timeout: LIVE_TIMEOUT_MS,
      })
      .toBe(latest);
    await expect
      .poll(() => page.locator('svg.chart [data-kind="lrp"] text').textContent(), {
        timeout: LIVE_TIMEOUT_MS,
      })
      .toContain(latest);
    expect(await page.locator('svg.chart [data-kind="backup"]').count()).toBe(backupsBefore);
    expect(await page.locator('#restore-target').inputValue()).toBe('0/4000000');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(
      true,
    );
  });

  it('lists the recently closed gaps: how long each was missing and when it was filled', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);
    const { history } = await getJson<{ history: Array<{ id: string; closedAt: string }> }>(
      `/clusters/${encodeURIComponent(FIXTURE_CLUSTERS.critical)}/gaps`,
    );
    expect(history).toHaveLength(fixtureClosedGaps(0).length);
    const items = page.locator('[data-section="closed-gaps"] li[data-closed-gap]');
    await expect.poll(() => items.count(), { timeout: LIVE_TIMEOUT_MS }).toBe(2);
    expect(
      await items.evaluateAll((lis) => lis.map((li) => [li.dataset.closedGap, li.dataset.outcome])),
    ).toEqual([
      ['000000010000000000000004-000000010000000000000004', 'filled'],
      ['000000010000000000000001-000000010000000000000002', 'out-of-range'],
    ]);
    const filledAt = `${String(history[0]?.closedAt).slice(0, 19).replace('T', ' ')} UTC`;
    expect(await items.nth(0).textContent()).toBe(
      `segment 000000010000000000000004 missing 3 h, filled ${filledAt} lost critical`,
    );
    expect(await items.nth(1).textContent()).toContain(
      '2 segments 000000010000000000000001 … 000000010000000000000002 missing 4 h, no longer checked',
    );
    expect(await items.nth(1).textContent()).toContain(
      'acknowledged by dba: lost in the 2026 bucket migration',
    );
    await screenshot('gap-history');
  });

  it('acknowledges a gap and shows it acknowledged', async () => {
    await openCluster(FIXTURE_CLUSTERS.critical);
    const gap = (await clusterReport(FIXTURE_CLUSTERS.critical)).gaps.find((g) => g.severity === 'warning');
    if (!gap) throw new Error('fixture has no warning gap');
    const row = page.locator(`[data-section="gaps"] tr[data-gap="${gap.id}"]`);
    await row.getByRole('textbox').fill('segment 9 was lost in the 2026 bucket migration');
    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await expect
      .poll(() => row.getAttribute('data-status'), { timeout: LIVE_TIMEOUT_MS })
      .toBe('acknowledged');
    expect((await clusterReport(FIXTURE_CLUSTERS.critical)).gaps.find((g) => g.id === gap.id)?.status).toBe(
      'acknowledged',
    );
    expect(await page.locator('svg.chart [data-kind="gap"][data-status="acknowledged"]').count()).toBe(1);
    await screenshot('gap-acknowledged');
  });
});

describe('dashboard restore drills', () => {
  it('shows in the fleet when a drill last verified each cluster', async () => {
    await page.goto(server.url);
    const ok = page.locator(`tr[data-cluster="${FIXTURE_CLUSTERS.ok}"] [data-field="drill"]`);
    await expect.poll(() => ok.textContent()).toMatch(/^verified 3 h( \d+ min)? ago$/);
    expect(
      await page.locator(`tr[data-cluster="${FIXTURE_CLUSTERS.warning}"] [data-field="drill"]`).textContent(),
    ).toBe('—');
  });

  it('shows the last verdict and the drill history in the cluster view', async () => {
    await openCluster(FIXTURE_CLUSTERS.ok);
    const section = page.locator('[data-section="drills"]');
    const rows = section.locator('tr[data-drill]');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await section.locator('.drill-verdict').getAttribute('data-verdict')).toBe('verified');
    expect(await section.locator('.drill-verdict').textContent()).toMatch(
      /^Verified last drill 3 h( \d+ min)? ago .*, target latest from base_000000020000000000000014; verified 3 h/,
    );
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.verdict))).toEqual([
      'verified',
      'failed',
    ]);
    const failed = rows.nth(1);
    expect(await failed.textContent()).toContain('000000020000000000000016 could not be fetched');
    await failed.getByText('PostgreSQL log').click();
    expect(await failed.locator('pre').textContent()).toBe(
      'FATAL:  could not locate required checkpoint record',
    );
    expect(await rows.first().textContent()).toContain('0/3A000F8');

    await openCluster(FIXTURE_CLUSTERS.warning);
    await expect
      .poll(() => page.locator('[data-section="drills"]').textContent())
      .toContain('No restore drill has run');
    await screenshot('drills');
  });
});

describe('dashboard static site', () => {
  it('writes a static site that reads the API named by --api, or by ?api= over it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walwatch-site-'));
    // Port 9 (discard) answers nothing: only the ?api= override can make the page work.
    await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'web', 'build.ts'), '--out', dir, '--api', 'http://127.0.0.1:9'],
      { cwd: ROOT },
    );
    const site = await serveDirectory(dir);
    try {
      await page.goto(`${site.url}/?api=${encodeURIComponent(server.url)}`);
      await expect.poll(() => page.locator('tr[data-cluster]').count()).toBe(4);
      await page.getByRole('link', { name: FIXTURE_CLUSTERS.ok }).click();
      await page.locator('svg.chart').waitFor();
      expect(new URL(page.url()).search).toBe(`?api=${encodeURIComponent(server.url)}`);

      await page.goto(site.url);
      const connection = page.locator('.connection');
      await expect.poll(() => connection.getAttribute('data-state')).toBe('error');
      expect(await connection.textContent()).toContain('Cannot reach the API');
      pageErrors = pageErrors.filter((message) => !message.includes('ERR_'));
    } finally {
      await site.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
