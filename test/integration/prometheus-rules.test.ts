/**
 * The Prometheus integration as a user deploys it: the local monitor's `/metrics` passes
 * `promtool check metrics`, `deploy/prometheus/walwatch-rules.yml` passes `promtool check rules`, and
 * `promtool test rules` on the series of a real scrape fires exactly the alerts walwatch itself reports
 * (a lost gap and a stale archive on one cluster, nothing on a healthy one). Every alert kind walwatch sends
 * has a rule and a README section its runbook link points to; every Grafana panel queries exported metrics.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_KINDS } from '../../shared/core/alerts.js';
import { walFileName } from '../../shared/core/lsn.js';
import { type LocalMonitor, startLocalMonitor } from '../../shared/local/local-monitor.js';
import { buildCommitSegment } from '../support/wal-builder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'deploy', 'prometheus', 'walwatch-rules.yml');
const GRAFANA = join(ROOT, 'deploy', 'grafana', 'walwatch.json');
const MiB = 1024 * 1024;
const HEALTHY = 'spilo/healthy/wal/15';
const BROKEN = 'spilo/broken/wal/15';
const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { input, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `name{a="b",…} value` lines of an exposition, as promtool's input series. */
function seriesOf(exposition: string): Array<{ series: string; value: string }> {
  return exposition
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const cut = line.lastIndexOf(' ');
      return { series: line.slice(0, cut), value: line.slice(cut + 1) };
    });
}

/** Names of the alerting rules in the rules file. */
function ruleNames(rules: string): string[] {
  return [...rules.matchAll(/^\s+- alert: (\S+)$/gm)].map((m) => m[1] as string);
}

describe.runIf(PROMTOOL || process.env.CI)('Prometheus rules and metrics', () => {
  let root: string;
  let monitor: LocalMonitor;
  let exposition: string;
  let rules: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'walwatch-prometheus-'));
    const archive = join(root, 'archive');
    const now = Date.now();
    const write = async (key: string, body: Uint8Array | string, storedAt: number) => {
      const path = join(archive, key);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, body);
      await utimes(path, storedAt / 1000, storedAt / 1000);
    };
    // Healthy: a backup and six segments, the newest a minute old. Broken: segment 4 missing, the rest
    // archived three hours ago — a lost, critical gap and a stale archive.
    for (const [id, newest, holes] of [
      [HEALTHY, now - 60_000, []],
      [BROKEN, now - 3 * 3_600_000, [4]],
    ] as const) {
      const storedAt = (segno: number) => newest - (6 - segno) * 60_000;
      await write(
        `${id}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`,
        JSON.stringify({ LSN: MiB + 40, FinishLSN: 2 * MiB + 80 }),
        storedAt(2),
      );
      for (let segno = 1; segno <= 6; segno++) {
        if ((holes as readonly number[]).includes(segno)) continue;
        await write(
          `${id}/wal_005/${walFileName(1, segno, MiB)}`,
          buildCommitSegment(segno, MiB, 7_400_000_000_000_000_005n, storedAt(segno) - 1000),
          storedAt(segno),
        );
      }
    }
    monitor = await startLocalMonitor({
      dataDir: join(root, 'data'),
      archiveDir: archive,
      host: '127.0.0.1',
      port: 0,
      segmentSize: MiB,
      sweepIntervalMs: 3_600_000,
      log: () => undefined,
    });
    await monitor.syncNow();
    await monitor.sweepNow();
    exposition = await (await fetch(`${monitor.url}/metrics`)).text();
    rules = await readFile(RULES, 'utf8');
  }, 60_000);

  afterAll(async () => {
    await monitor?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('exports metrics that promtool check metrics accepts', () => {
    expect(exposition).toContain(
      `walwatch_problems{cluster="${BROKEN}",kind="wal-gap",severity="critical"} 1`,
    );
    expect(exposition).toMatch(/walwatch_backup_info\{cluster="spilo\/healthy\/wal\/15",backup_name="base_/);
    const check = promtool(['check', 'metrics'], exposition);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('ships rules that promtool check rules accepts', () => {
    const check = promtool(['check', 'rules', RULES]);
    expect(check.output).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  it('fires the alerts walwatch reports, on the series of a real scrape, and none for the healthy cluster', async () => {
    const series = seriesOf(exposition);
    const firing = (kind: string) =>
      series
        .filter((s) => s.series.startsWith('walwatch_problems{') && s.series.includes(`kind="${kind}"`))
        .filter((s) => !s.series.includes('severity="info"'));
    expect(firing('wal-gap').map((s) => s.series)).toEqual([
      `walwatch_problems{cluster="${BROKEN}",kind="wal-gap",severity="critical"}`,
    ]);
    const test = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series.map(({ series: name, value }) => ({ series: name, values: `${value}x30` })),
          alert_rule_test: [
            {
              eval_time: '20m',
              alertname: 'WalwatchWalGap',
              exp_alerts: [
                {
                  exp_labels: { cluster: BROKEN, kind: 'wal-gap', severity: 'critical' },
                  exp_annotations: {
                    summary: `${BROKEN}: wal-gap (critical)`,
                    description: `WAL segments are missing: point-in-time recovery stops before them: 1 open on ${BROKEN}.`,
                    runbook_url: 'docs/alerts.md#wal-gap',
                  },
                },
              ],
            },
            {
              eval_time: '20m',
              alertname: 'WalwatchArchiveStale',
              exp_alerts: [
                {
                  exp_labels: { cluster: BROKEN, kind: 'archive-stale', severity: 'critical' },
                  exp_annotations: {
                    summary: `${BROKEN}: archive-stale (critical)`,
                    description: `No WAL segment has been archived for longer than the archive-age threshold: 1 open on ${BROKEN}.`,
                    runbook_url: 'docs/alerts.md#archive-stale',
                  },
                },
              ],
            },
            // Not yet: `for: 5m` has not passed after the first scrape.
            { eval_time: '2m', alertname: 'WalwatchArchiveStale', exp_alerts: [] },
            { eval_time: '20m', alertname: 'WalwatchDown', exp_alerts: [] },
            ...ruleNames(rules)
              .filter((name) => !['WalwatchWalGap', 'WalwatchArchiveStale', 'WalwatchDown'].includes(name))
              .map((alertname) => ({ eval_time: '20m', alertname, exp_alerts: [] })),
          ],
        },
      ],
    };
    const file = join(root, 'rules.test.json');
    await writeFile(file, JSON.stringify(test));
    const result = promtool(['test', 'rules', file]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('fires WalwatchDown when walwatch is not scraped', async () => {
    const file = join(root, 'down.test.json');
    await writeFile(
      file,
      JSON.stringify({
        rule_files: [RULES],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [{ series: 'up{job="walwatch"}', values: '0x10' }],
            alert_rule_test: [
              {
                eval_time: '10m',
                alertname: 'WalwatchDown',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'critical' },
                    exp_annotations: {
                      summary: 'walwatch exports no metrics',
                      description:
                        'Prometheus has scraped no walwatch_clusters series for 5 minutes; the monitor is down or not scraped, and no other walwatch alert can fire.',
                      runbook_url: 'docs/local-monitor.md#the-local-monitor-npm-start--walwatch-serve',
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const result = promtool(['test', 'rules', file]);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('has a rule and a section in docs/alerts.md for every alert kind walwatch sends', async () => {
    const alertsDoc = await readFile(join(ROOT, 'docs', 'alerts.md'), 'utf8');
    const anchors = new Set(
      [...alertsDoc.matchAll(/^#{2,6} (.+)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const kind of ALERT_KINDS) {
      expect(rules, `rule for ${kind}`).toContain(`kind="${kind}"`);
      expect(anchors.has(kind), `docs/alerts.md section for ${kind}`).toBe(true);
    }
    for (const link of rules.matchAll(/runbook_url: (\S+)#(\S+)/g)) {
      const doc = await readFile(join(ROOT, link[1] as string), 'utf8');
      const headings = [...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
        (m[1] as string)
          .toLowerCase()
          .replace(/[^a-z0-9 _-]/g, '')
          .replace(/ /g, '-'),
      );
      expect(headings, `runbook ${link[1]}#${link[2]}`).toContain(link[2]);
    }
  });

  it('ships a Grafana dashboard whose every query names a metric /metrics exports', async () => {
    const dashboard = JSON.parse(await readFile(GRAFANA, 'utf8')) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ query: string | { query: string } }> };
    };
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const exprs = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => (typeof v.query === 'string' ? v.query : v.query.query)),
    ];
    expect(dashboard.panels.filter((p) => p.targets).length).toBeGreaterThanOrEqual(5);
    for (const expr of exprs) {
      const names = [...expr.matchAll(/\b(walwatch_[a-z_]+)\b/g)].map((m) => m[1] as string);
      expect(names.length, `a walwatch metric in ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${name} in ${expr}`).toContain(name);
    }
  });
});
