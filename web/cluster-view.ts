/// <reference lib="dom" />
/**
 * The cluster view: summary, the recoverability chart, problems, gaps (with acknowledgement), the restore
 * plan form, timelines and backups. Polling calls `update` with each new report; a section is rebuilt only
 * when its own data changed, so a half-typed reason or restore target survives live updates.
 */

import type { DrillRecord } from '../shared/core/drill.js';
import type { ClosedGapReport } from '../shared/core/gap-history.js';
import type { ClusterReport, GapReport } from '../shared/core/report.js';
import type { ApiClient, ClusterResponse, SegmentResponse } from './api.js';
import { BACKUP_STATUS_LABEL, renderChartLegend, renderRecoverabilityChart } from './chart.js';
import { type Child, h, replaceChildren } from './dom.js';
import { statusBadge } from './fleet-view.js';
import {
  ageSeconds,
  DRILL_VERDICT_LABEL,
  formatAgo,
  formatBytes,
  formatDuration,
  formatLength,
  formatTime,
} from './format.js';
import { RestorePlanForm } from './restore-form.js';

/** One section: its element and the data it was last drawn from. */
interface Section {
  readonly element: HTMLElement;
  key: string;
}

/** A live cluster page. */
export class ClusterView {
  /** The view's root element, to put in the page. */
  readonly element: HTMLElement;
  private readonly sections: Record<
    'header' | 'summary' | 'chart' | 'problems' | 'gaps' | 'closedGaps' | 'drills' | 'timelines' | 'backups',
    Section
  >;
  private readonly restore: RestorePlanForm;
  /** The newest drill whose history is drawn (or being fetched): the history is fetched when it changes. */
  private drillsShown: string | null = null;
  private drillHistory: DrillRecord[] | null = null;
  private drillError: string | null = null;
  /** Closed gaps (`GET …/gaps`), the open gaps they were fetched for, and when. */
  private gapHistory: ClosedGapReport[] | null = null;
  private gapHistoryFor: string | null = null;
  private gapHistoryAt = 0;
  private gapHistoryLoading = false;

  constructor(
    readonly clusterId: string,
    private readonly api: ApiClient,
    /** Asks the page to fetch the cluster again now (after an acknowledgement). */
    private readonly refresh: () => void,
  ) {
    const section = (name: string, label?: string): Section => ({
      element: h('section', {
        class: `cluster-${name}`,
        'data-section': name,
        ...(label ? { 'aria-label': label } : {}),
      }),
      key: '',
    });
    this.sections = {
      header: section('header'),
      summary: section('summary', 'Summary'),
      chart: section('chart', 'Recoverability chart'),
      problems: section('problems', 'Problems'),
      gaps: section('gaps', 'Gaps'),
      // Its own section: a history arriving later never rebuilds the gaps table and a half-typed reason.
      closedGaps: section('closed-gaps', 'Recently closed gaps'),
      drills: section('drills', 'Restore drills'),
      timelines: section('timelines', 'Timelines'),
      backups: section('backups', 'Backups'),
    };
    this.restore = new RestorePlanForm(clusterId, api);
    this.element = h(
      'div',
      { class: 'cluster-view', 'data-cluster': clusterId },
      h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All clusters')),
      this.sections.header.element,
      this.sections.summary.element,
      this.sections.chart.element,
      this.sections.problems.element,
      this.sections.gaps.element,
      this.sections.closedGaps.element,
      this.restore.element,
      this.sections.drills.element,
      this.sections.timelines.element,
      this.sections.backups.element,
    );
  }

  /** Draws a new report. */
  update(response: ClusterResponse): void {
    const report = response.cluster;
    const nowMs = Date.parse(response.generatedAt);
    this.draw('header', [report.id, report.status, report.scope, report.uid, report.pgMajor], () =>
      renderHeader(report),
    );
    this.draw('summary', response.generatedAt + summaryKey(report), () => renderSummary(report, nowMs));
    this.draw('chart', response.generatedAt + JSON.stringify(report), () =>
      renderChart(report, nowMs, (iso) => this.restore.plan(iso)),
    );
    this.draw('problems', report.problems, () => renderProblems(report, (name) => this.segmentDetails(name)));
    this.showGaps(report, nowMs);
    this.showDrills(report, nowMs);
    this.draw('timelines', [report.timelines, report.targetTimeline], () => renderTimelines(report));
    this.draw('backups', [response.generatedAt, report.backups], () => renderBackups(report, nowMs));
  }

  private draw(name: keyof ClusterView['sections'], data: unknown, render: () => Child[]): void {
    const section = this.sections[name];
    const key = typeof data === 'string' ? data : JSON.stringify(data);
    if (key === section.key) return;
    section.key = key;
    replaceChildren(section.element, ...render());
  }

  /** Draws the last verdict and, once fetched, the history; fetched again only when a new drill lands. */
  private showDrills(report: ClusterReport, nowMs: number): void {
    const last = report.lastDrill ?? null;
    const key = last ? `${last.startedAt}|${last.verdict}` : 'none';
    const draw = (): void => {
      replaceChildren(
        this.sections.drills.element,
        ...renderDrills(last, last ? this.drillHistory : [], nowMs),
        this.drillError ? h('p', { class: 'error' }, this.drillError) : null,
      );
    };
    if (key !== this.drillsShown) {
      this.drillsShown = key;
      this.drillHistory = null;
      this.drillError = null;
      if (last)
        void this.api.drills(this.clusterId).then((result) => {
          if (this.drillsShown !== key) return;
          if (result.ok) this.drillHistory = result.value.drills;
          else this.drillError = result.message;
          draw();
        });
    }
    draw();
  }

  /**
   * Draws the open gaps and the recently closed ones. The history is fetched again when the open gaps change
   * (a gap closing is recorded by the next sweep, so also every {@link GAP_HISTORY_REFRESH_MS}).
   */
  private showGaps(report: ClusterReport, nowMs: number): void {
    this.draw('gaps', report.gaps, () => this.renderGaps(report));
    const openKey = JSON.stringify(report.gaps);
    const draw = (): void =>
      this.draw('closedGaps', [this.gapHistory], () => renderGapHistory(this.gapHistory));
    const stale = nowMs - this.gapHistoryAt >= GAP_HISTORY_REFRESH_MS;
    if (!this.gapHistoryLoading && (openKey !== this.gapHistoryFor || stale)) {
      this.gapHistoryFor = openKey;
      this.gapHistoryAt = nowMs;
      this.gapHistoryLoading = true;
      void this.api.gaps(this.clusterId).then((result) => {
        this.gapHistoryLoading = false;
        // A failed fetch keeps what was shown; the next refresh tries again.
        if (result.ok) this.gapHistory = result.value.history;
        draw();
      });
    }
    draw();
  }

  /** A button that loads and shows what the content scan found in one segment. */
  private segmentDetails(name: string): HTMLElement {
    const output = h('div', { class: 'segment-details', 'data-segment': name, 'aria-live': 'polite' });
    const button = h('button', { type: 'button', class: 'secondary' }, 'Segment details');
    button.addEventListener('click', async () => {
      button.disabled = true;
      replaceChildren(output, 'Loading…');
      const result = await this.api.segment(this.clusterId, name);
      button.disabled = false;
      replaceChildren(
        output,
        ...(result.ok ? renderSegment(result.value) : [h('p', { class: 'error' }, result.message)]),
      );
    });
    return h('div', {}, button, output);
  }

  private renderGaps(report: ClusterReport): Child[] {
    const heading = h('h3', {}, `Gaps (${report.gaps.length})`);
    if (report.gaps.length === 0)
      return [heading, h('p', { class: 'empty' }, 'No missing WAL between the oldest backup and the head.')];
    return [
      heading,
      table(
        ['Segments', 'Timeline', 'Count', 'Status', 'Severity', 'Next segment stored', 'Acknowledge'],
        report.gaps.map((gap) =>
          h(
            'tr',
            { 'data-gap': gap.id, 'data-status': gap.status },
            h(
              'td',
              {},
              h('code', {}, gap.firstSegment),
              gap.count > 1 ? h('span', {}, ' … ', h('code', {}, gap.lastSegment)) : null,
            ),
            h('td', {}, gap.timeline),
            h('td', {}, gap.count),
            h('td', {}, h('span', { class: `badge gap-status-${gap.status}` }, gap.status)),
            h('td', {}, h('span', { class: `badge status-${gap.severity}` }, gap.severity)),
            h('td', {}, formatTime(gap.nextSegmentStoredAt)),
            h('td', {}, gap.status === 'lost' || gap.status === 'pending' ? this.ackForm(gap) : '—'),
          ),
        ),
      ),
    ];
  }

  private ackForm(gap: GapReport): HTMLElement {
    const reason = h('input', {
      name: 'reason',
      required: true,
      maxlength: 1000,
      placeholder: 'why this gap is accepted',
      'aria-label': `Reason to acknowledge gap ${gap.id}`,
    });
    const message = h('span', { class: 'form-message', role: 'status' });
    const form = h(
      'form',
      { class: 'ack-form' },
      reason,
      h('button', { type: 'submit' }, 'Acknowledge'),
      message,
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      message.textContent = 'Saving…';
      const result = await this.api.acknowledgeGap(this.clusterId, gap.id, reason.value);
      message.textContent = result.ok ? 'Acknowledged' : `Failed: ${result.message}`;
      if (result.ok) this.refresh();
    });
    return form;
  }
}

/** How often the closed-gap history is fetched again while the open gaps stay the same. */
const GAP_HISTORY_REFRESH_MS = 30_000;

/** "segment 00000001000000000000000B missing 3 h, filled 2026-11-24 12:04:00 UTC", newest first. */
function renderGapHistory(history: readonly ClosedGapReport[] | null): Child[] {
  if (history === null || history.length === 0) return [];
  return [
    h('h4', {}, `Recently closed (${history.length})`),
    h(
      'ul',
      { class: 'gap-history' },
      ...history.map((gap) => {
        const segments =
          gap.count > 1
            ? h(
                'span',
                {},
                `${gap.count} segments `,
                h('code', {}, gap.firstSegment),
                ' … ',
                h('code', {}, gap.lastSegment),
              )
            : h('span', {}, 'segment ', h('code', {}, gap.firstSegment));
        const open = (Date.parse(gap.closedAt) - Date.parse(gap.firstSeenAt)) / 1000;
        const closed = gap.status === 'filled' ? 'filled' : 'no longer checked';
        return h(
          'li',
          { 'data-closed-gap': gap.id, 'data-outcome': gap.status, 'data-worst': gap.worstStatus },
          segments,
          ` missing ${formatDuration(open)}, ${closed} ${formatTime(gap.closedAt)} `,
          h('span', { class: `badge gap-status-${gap.worstStatus}` }, gap.worstStatus),
          ' ',
          h('span', { class: `badge status-${gap.severity}` }, gap.severity),
          gap.acknowledgement
            ? h(
                'span',
                { class: 'gap-ack' },
                ` acknowledged by ${gap.acknowledgement.by}: ${gap.acknowledgement.reason}`,
              )
            : null,
        );
      }),
    ),
  ];
}

function summaryKey(report: ClusterReport): string {
  return JSON.stringify([
    report.latestRecoverable,
    report.earliestRecoverable,
    report.archiveAgeSeconds,
    report.backupAgeSeconds,
    report.recoveryPointLagSeconds,
    report.targetTimeline,
  ]);
}

function table(headings: readonly string[], rows: readonly HTMLElement[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...headings.map((label) => h('th', { scope: 'col' }, label)))),
      h('tbody', {}, ...rows),
    ),
  );
}

function renderHeader(report: ClusterReport): Child[] {
  const details = [
    report.scope ? `scope ${report.scope}` : null,
    report.uid ? `uid ${report.uid}` : null,
    report.pgMajor ? `PostgreSQL ${report.pgMajor}` : null,
    `segments of ${formatBytes(report.segmentSize)}`,
  ].filter((part) => part !== null);
  return [
    h('h2', { class: 'cluster-title' }, statusBadge(report.status), ' ', h('span', {}, report.id)),
    h('p', { class: 'muted' }, details.join(' · ')),
  ];
}

function card(label: string, field: string, value: Child, detail?: Child): HTMLElement {
  return h(
    'div',
    { class: 'card', 'data-field': field },
    h('dt', {}, label),
    h('dd', {}, h('div', { class: 'value' }, value), detail ? h('div', { class: 'muted' }, detail) : null),
  );
}

function renderSummary(report: ClusterReport, nowMs: number): Child[] {
  const lrp = report.latestRecoverable;
  const erp = report.earliestRecoverable;
  const lrpTime = lrp ? (lrp.lastCommitTime ?? lrp.archivedAt) : null;
  return [
    h(
      'dl',
      { class: 'cards' },
      card(
        'Latest recoverable point',
        'latest',
        lrp ? h('code', {}, lrp.lsn) : 'nothing restorable',
        lrp
          ? `timeline ${lrp.timeline} · ${lrp.lastCommitTime ? 'last commit' : 'WAL archived'} ${formatAgo(ageSeconds(lrpTime, nowMs))} (${formatTime(lrpTime)})`
          : 'no backup can be restored',
      ),
      card(
        'Earliest recoverable point',
        'earliest',
        erp ? h('code', {}, erp.lsn) : '—',
        erp ? `${erp.backup} · ${formatTime(erp.time)}` : null,
      ),
      card(
        'Recovery point lag',
        'lag',
        formatLength(report.recoveryPointLagSeconds),
        'how much recent history a restore now would lose',
      ),
      card(
        'Last WAL archived',
        'archive-age',
        formatAgo(report.archiveAgeSeconds),
        formatTime(report.lastArchivedAt),
      ),
      card('Last restorable backup', 'backup-age', formatAgo(report.backupAgeSeconds)),
      card(
        'Target timeline',
        'target-timeline',
        String(report.targetTimeline),
        `head ${report.headSegment ?? '—'}`,
      ),
    ),
  ];
}

function renderChart(report: ClusterReport, nowMs: number, onPickTime: (iso: string) => void): Child[] {
  const chart = renderRecoverabilityChart(report, { nowMs, onPickTime });
  return [
    h('h3', {}, 'Recoverability over time and LSN'),
    h(
      'figure',
      { class: 'chart-figure' },
      chart,
      h('figcaption', {}, renderChartLegend(chart.dataset.pickable === 'true')),
    ),
  ];
}

function renderProblems(report: ClusterReport, segmentDetails: (name: string) => HTMLElement): Child[] {
  const heading = h('h3', {}, `Problems (${report.problems.length})`);
  if (report.problems.length === 0) return [heading, h('p', { class: 'empty' }, 'No problems.')];
  const rank = { critical: 0, warning: 1, info: 2 } as const;
  const problems = [...report.problems].sort((a, b) => rank[a.severity] - rank[b.severity]);
  return [
    heading,
    h(
      'ul',
      { class: 'problems' },
      ...problems.map((problem) =>
        h(
          'li',
          { 'data-kind': problem.kind, 'data-severity': problem.severity },
          h('span', { class: `badge status-${problem.severity}` }, problem.severity),
          ' ',
          h('strong', {}, problem.kind),
          ' ',
          h('span', {}, problem.message),
          problem.kind === 'wal-corrupt' && /^[0-9A-F]{24}$/.test(problem.subject)
            ? segmentDetails(problem.subject)
            : null,
        ),
      ),
    ),
  ];
}

/** The stored summary of one segment: why recovery stops in it, and what it holds up to there. */
function renderSegment(read: SegmentResponse): Child[] {
  const summary = read.summary;
  const rows: Array<[string, Child]> = [
    ['Object', h('code', {}, read.key)],
    ['Read', formatTime(read.readAt)],
  ];
  if (read.defect)
    rows.push(
      ['Defect', h('span', {}, h('strong', {}, read.defect.kind), ': ', read.defect.message)],
      ['Replay stops at', h('code', {}, read.defect.stopLsn)],
    );
  if (read.readError) rows.push(['Unreadable', read.readError]);
  if (summary)
    rows.push(
      [
        'Valid WAL',
        h('span', {}, h('code', {}, summary.startLsn ?? '?'), ' … ', h('code', {}, summary.endLsn ?? '?')),
      ],
      ['Records', `${summary.recordCount} (${formatBytes(summary.recordBytes)})`],
      ['Commits', `${summary.commitCount}, last ${formatTime(summary.lastCommitTime)}`],
      ['System', summary.systemIdentifier ?? '?'],
      ['PostgreSQL', summary.postgresVersion ?? '?'],
    );
  return [
    h(
      'dl',
      { class: 'segment-summary' },
      ...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
  ];
}

/** The restore drill section: the last verdict, then the history (`null` while it loads). */
function renderDrills(
  last: ClusterReport['lastDrill'] | null,
  history: readonly DrillRecord[] | null,
  nowMs: number,
): Child[] {
  const heading = h('h3', {}, `Restore drills${history ? ` (${history.length})` : ''}`);
  if (!last)
    return [
      heading,
      h(
        'p',
        { class: 'empty' },
        'No restore drill has run: walwatch serve --drill-every, or the restoreDrill task on AWS, restores the archive and checks the prediction.',
      ),
    ];
  const verdict = h(
    'p',
    { class: 'drill-verdict', 'data-verdict': last.verdict },
    h('span', { class: `badge drill-${last.verdict}` }, DRILL_VERDICT_LABEL[last.verdict]),
    ' ',
    `last drill ${formatAgo(ageSeconds(last.finishedAt, nowMs))} (${formatTime(last.finishedAt)}), target ${last.target}${last.backup ? ` from ${last.backup}` : ''}; `,
    last.lastVerifiedAt === null
      ? 'never verified'
      : `verified ${formatAgo(ageSeconds(last.lastVerifiedAt, nowMs))}`,
    last.reason ? h('div', { class: 'muted' }, last.reason) : null,
  );
  const point = (p: DrillRecord['reached']): Child =>
    p.lsn === null
      ? '—'
      : h(
          'span',
          {},
          h('code', {}, p.lsn),
          h(
            'div',
            { class: 'muted' },
            [p.timeline === null ? null : `timeline ${p.timeline}`, p.lastCommitTime]
              .filter(Boolean)
              .join(' · '),
          ),
        );
  if (history === null) return [heading, verdict, h('p', { class: 'muted' }, 'Loading the drill history…')];
  return [
    heading,
    verdict,
    table(
      ['Started', 'Verdict', 'Target', 'Backup', 'Predicted', 'Reached', 'Check', 'Details'],
      history.map((drill) =>
        h(
          'tr',
          { 'data-drill': drill.startedAt, 'data-verdict': drill.verdict },
          h('td', { title: formatTime(drill.startedAt) }, formatAgo(ageSeconds(drill.startedAt, nowMs))),
          h(
            'td',
            {},
            h('span', { class: `badge drill-${drill.verdict}` }, DRILL_VERDICT_LABEL[drill.verdict]),
          ),
          h('td', {}, drill.target),
          h('td', {}, drill.backup ? h('code', {}, drill.backup) : '—'),
          h('td', {}, point(drill.predicted)),
          h('td', {}, point(drill.reached)),
          h('td', {}, drill.checkResult ?? '—'),
          h(
            'td',
            {},
            drill.reason ?? '',
            drill.logTail
              ? h(
                  'details',
                  {},
                  h('summary', {}, 'PostgreSQL log'),
                  h('pre', { class: 'drill-log' }, drill.logTail),
                )
              : null,
          ),
        ),
      ),
    ),
  ];
}

function renderTimelines(report: ClusterReport): Child[] {
  return [
    h('h3', {}, `Timelines (${report.timelines.length})`),
    table(
      ['Timeline', 'Parent', 'Switch point', 'Segments', 'First', 'Last', 'History', 'Lineage'],
      [...report.timelines]
        .sort((a, b) => a.id - b.id)
        .map((timeline) =>
          h(
            'tr',
            { 'data-timeline': timeline.id },
            h('td', {}, timeline.id === report.targetTimeline ? `${timeline.id} (target)` : timeline.id),
            h('td', {}, timeline.parent ?? '—'),
            h('td', {}, timeline.switchLsn ? h('code', {}, timeline.switchLsn) : '—'),
            h('td', {}, timeline.segments),
            h('td', {}, timeline.firstSegment ? h('code', {}, timeline.firstSegment) : '—'),
            h('td', {}, timeline.lastSegment ? h('code', {}, timeline.lastSegment) : '—'),
            h(
              'td',
              {},
              h(
                'span',
                { class: `badge ${timeline.history === 'ok' ? 'status-ok' : 'status-critical'}` },
                timeline.history,
              ),
            ),
            h('td', {}, timeline.inLineage ? 'on the path to the target' : 'diverged branch'),
          ),
        ),
    ),
  ];
}

function renderBackups(report: ClusterReport, nowMs: number): Child[] {
  const backups = [...report.backups].reverse();
  if (backups.length === 0)
    return [
      h('h3', {}, 'Backups (0)'),
      h('p', { class: 'empty' }, 'No backup sentinel or backup upload seen.'),
    ];
  return [
    h('h3', {}, `Backups (${report.backups.length})`),
    table(
      ['Backup', 'Status', 'Timeline', 'Consistent at', 'Finished', 'Size', 'Kind'],
      backups.map((backup) =>
        h(
          'tr',
          { 'data-backup': backup.name, 'data-status': backup.status },
          h('td', {}, h('code', {}, backup.name)),
          h(
            'td',
            {},
            h('span', { class: `badge backup-${backup.status}` }, BACKUP_STATUS_LABEL[backup.status]),
            backup.reason ? h('div', { class: 'muted' }, backup.reason) : null,
          ),
          h('td', {}, backup.timeline),
          h('td', {}, backup.finishLsn ? h('code', {}, backup.finishLsn) : '—'),
          h(
            'td',
            { title: formatTime(backup.finishTime) },
            backup.finishTime ? formatAgo(ageSeconds(backup.finishTime, nowMs)) : '—',
          ),
          h('td', {}, formatBytes(backup.compressedSize)),
          h(
            'td',
            {},
            [backup.delta ? `delta of ${backup.delta.parent}` : 'full', backup.permanent ? 'permanent' : null]
              .filter(Boolean)
              .join(', '),
          ),
        ),
      ),
    ),
  ];
}
