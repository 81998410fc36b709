/// <reference lib="dom" />
/**
 * The fleet view: one page of clusters, worst first, with status, latest and earliest recoverable point and
 * ages in words; counts per status, search, a status filter and paging over the API's fleet pages.
 */
import type { ClusterSummary, FleetResponse } from './api.js';
import { h } from './dom.js';
import {
  ageSeconds,
  DRILL_VERDICT_LABEL,
  formatAgo,
  formatLength,
  formatTime,
  STATUS_LABEL,
  STATUS_RANK,
} from './format.js';

/** The link to a cluster's view; the id is one encoded segment, as in the API. */
export function clusterHref(id: string): string {
  return `#/clusters/${encodeURIComponent(id)}`;
}

/** Worst first: status, then the longest recovery point lag (unknown counts as longest), then id. */
export function sortWorstFirst(clusters: readonly ClusterSummary[]): ClusterSummary[] {
  const lag = (c: ClusterSummary) => c.recoveryPointLagSeconds ?? Number.POSITIVE_INFINITY;
  return [...clusters].sort(
    (a, b) =>
      STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
      (lag(b) === lag(a) ? 0 : lag(b) > lag(a) ? 1 : -1) ||
      a.id.localeCompare(b.id),
  );
}

/** A status colour with its word. */
export function statusBadge(status: ClusterSummary['status']): HTMLElement {
  return h('span', { class: `badge status-${status}`, 'data-status': status }, STATUS_LABEL[status]);
}

/** What the fleet view asks the API for: filters and the page's cursor. */
export interface FleetQuery {
  readonly q?: string;
  readonly status?: ClusterSummary['status'];
  readonly cursor?: string;
  readonly limit: number;
}

/** Rows per page: the DOM holds one page, whatever the fleet's size. */
export const FLEET_PAGE_SIZE = 100;

const COLUMNS = [
  'Status',
  'Cluster',
  'Latest recoverable',
  'Earliest recoverable',
  'Recovery point lag',
  'Last WAL archived',
  'Last backup',
  'Problems',
  'Lost gaps',
  'Restore drill',
];

/**
 * The fleet view for fleets of any size: counts per status, a search box and a status filter (both
 * answered by the API), one page of rows with previous/next, and updates that touch only the rows whose
 * text changed. The owner calls `update` with each answer (or `age` when the API answered 304).
 */
export class FleetView {
  readonly element: HTMLElement;
  private readonly counts: HTMLElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly table: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly pageLabel: HTMLElement;
  private readonly previous: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly search: HTMLInputElement;
  private readonly status: HTMLSelectElement;
  /** Cursors of the pages before the current one, and of the current one. */
  private cursors: (string | undefined)[] = [undefined];
  private nextCursor: string | null = null;
  private last: FleetResponse | null = null;
  /** Each shown row's element and the text it was drawn with. */
  private readonly rows = new Map<string, { element: HTMLElement; drawn: string }>();
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly onQueryChange: () => void) {
    this.counts = h('p', { class: 'fleet-summary', 'aria-live': 'polite' });
    this.search = h('input', {
      type: 'search',
      name: 'q',
      placeholder: 'Search cluster ids',
      'aria-label': 'Search cluster ids',
      autocomplete: 'off',
    });
    this.status = h(
      'select',
      { name: 'status', 'aria-label': 'Status' },
      h('option', { value: '' }, 'All statuses'),
      ...(['critical', 'warning', 'ok'] as const).map((status) =>
        h('option', { value: status }, STATUS_LABEL[status]),
      ),
    );
    this.previous = h(
      'button',
      { type: 'button', class: 'secondary', 'data-action': 'previous' },
      '← Previous',
    );
    this.next = h('button', { type: 'button', class: 'secondary', 'data-action': 'next' }, 'Next →');
    this.pageLabel = h('span', { class: 'page-label muted' });
    this.tbody = h('tbody', {});
    this.table = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'fleet-table' },
        h('caption', { class: 'visually-hidden' }, 'Clusters, worst first'),
        h('thead', {}, h('tr', {}, ...COLUMNS.map((label) => h('th', { scope: 'col' }, label)))),
        this.tbody,
      ),
    );
    this.empty = h('p', { class: 'empty' });
    this.element = h(
      'section',
      { class: 'fleet', 'aria-labelledby': 'fleet-title' },
      h('h2', { id: 'fleet-title' }, 'Clusters'),
      this.counts,
      h(
        'div',
        { class: 'fleet-controls' },
        this.search,
        this.status,
        this.previous,
        this.pageLabel,
        this.next,
      ),
      this.empty,
      this.table,
    );
    const restart = () => {
      this.cursors = [undefined];
      this.onQueryChange();
    };
    this.search.addEventListener('input', () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(restart, 250);
    });
    this.status.addEventListener('change', restart);
    this.previous.addEventListener('click', () => {
      if (this.cursors.length > 1) this.cursors.pop();
      this.onQueryChange();
    });
    this.next.addEventListener('click', () => {
      if (this.nextCursor === null) return;
      this.cursors.push(this.nextCursor);
      this.onQueryChange();
    });
  }

  /** The query for the page shown (or asked for). */
  query(): FleetQuery {
    const q = this.search.value.trim();
    const status = this.status.value as ClusterSummary['status'] | '';
    const cursor = this.cursors[this.cursors.length - 1];
    return {
      limit: FLEET_PAGE_SIZE,
      ...(q ? { q } : {}),
      ...(status ? { status } : {}),
      ...(cursor ? { cursor } : {}),
    };
  }

  /** Draws an answer; rows whose text is unchanged keep their elements (and focus, selection). */
  update(fleet: FleetResponse): void {
    this.last = fleet;
    this.draw(fleet, Date.parse(fleet.generatedAt), 0);
  }

  /** Ages the last answer by `elapsedSeconds` (the API said nothing changed). */
  age(elapsedSeconds: number): void {
    if (this.last)
      this.draw(this.last, Date.parse(this.last.generatedAt) + elapsedSeconds * 1000, elapsedSeconds);
  }

  private draw(fleet: FleetResponse, nowMs: number, elapsed: number): void {
    const started = performance.now();
    this.drawRows(fleet, nowMs, elapsed);
    // How long the last update took, for the benchmark (`npm run bench fleet`).
    this.element.dataset.drawMs = (performance.now() - started).toFixed(2);
  }

  private drawRows(fleet: FleetResponse, nowMs: number, elapsed: number): void {
    this.nextCursor = fleet.cursor ?? null;
    const counts = fleet.counts ?? countsOf(fleet.clusters);
    this.counts.textContent =
      counts.total === 0
        ? ''
        : `${counts.total} cluster${counts.total === 1 ? '' : 's'}: ${counts.critical} critical, ${counts.warning} warning, ${counts.ok} OK`;
    this.counts.dataset.total = String(counts.total);
    const filtered = this.search.value.trim() !== '' || this.status.value !== '';
    this.empty.textContent =
      fleet.clusters.length > 0
        ? ''
        : filtered
          ? 'No cluster matches.'
          : 'No cluster seen yet: walwatch lists a cluster once its first WAL object arrives.';
    this.table.hidden = fleet.clusters.length === 0;
    const page = this.cursors.length;
    this.pageLabel.textContent = `page ${page}`;
    this.previous.disabled = page === 1;
    this.next.disabled = this.nextCursor === null;

    const order = fleet.clusters.map((cluster) => cluster.id);
    const wanted = new Set(order);
    for (const [id, shown] of this.rows) {
      if (!wanted.has(id)) {
        shown.element.remove();
        this.rows.delete(id);
      }
    }
    let previous: Element | null = null;
    for (const cluster of fleet.clusters) {
      const fresh = renderRow(cluster, nowMs, elapsed);
      const drawn = fresh.outerHTML;
      let shown = this.rows.get(cluster.id);
      if (!shown || shown.drawn !== drawn) {
        if (shown) {
          // Keyboard users keep their place: the redrawn row's link gets focus back.
          const focused = shown.element.contains(document.activeElement);
          shown.element.replaceWith(fresh);
          if (focused) fresh.querySelector('a')?.focus();
        }
        shown = { element: fresh, drawn };
        this.rows.set(cluster.id, shown);
      }
      const expected: Element | null = previous ? previous.nextElementSibling : this.tbody.firstElementChild;
      if (expected !== shown.element) {
        if (previous) previous.after(shown.element);
        else this.tbody.prepend(shown.element);
      }
      previous = shown.element;
    }
  }
}

function countsOf(clusters: readonly ClusterSummary[]) {
  const counts = { critical: 0, warning: 0, ok: 0, total: clusters.length };
  for (const cluster of clusters) counts[cluster.status]++;
  return counts;
}

/** Renders a whole answer once (a static page, or a test): a `FleetView` fed with it. */
export function renderFleet(fleet: FleetResponse): HTMLElement {
  const view = new FleetView(() => undefined);
  view.update({ ...fleet, clusters: sortWorstFirst(fleet.clusters) });
  return view.element;
}

function renderRow(cluster: ClusterSummary, nowMs: number, elapsed: number): HTMLElement {
  const later = (age: number | null) => (age === null ? null : age + elapsed);
  const lrp = cluster.latestRecoverable;
  const erp = cluster.earliestRecoverable;
  const lrpTime = lrp ? (lrp.lastCommitTime ?? lrp.archivedAt) : null;
  const details = [
    cluster.scope ? `scope ${cluster.scope}` : null,
    cluster.uid ? `uid ${cluster.uid}` : null,
    cluster.pgMajor ? `PostgreSQL ${cluster.pgMajor}` : null,
  ].filter((part) => part !== null);
  return h(
    'tr',
    { 'data-cluster': cluster.id, 'data-status': cluster.status, class: `row-${cluster.status}` },
    h('td', { 'data-field': 'status' }, statusBadge(cluster.status)),
    h(
      'th',
      { scope: 'row', 'data-field': 'id' },
      h('a', { href: clusterHref(cluster.id) }, cluster.id),
      details.length > 0 ? h('div', { class: 'muted' }, details.join(' · ')) : null,
    ),
    h(
      'td',
      { 'data-field': 'latest' },
      lrp
        ? h(
            'div',
            {},
            h('code', {}, lrp.lsn),
            h(
              'div',
              { class: 'muted', title: formatTime(lrpTime) },
              lrp.lastCommitTime ? 'last commit ' : 'WAL archived ',
              formatAgo(lrpTime === null ? null : (nowMs - Date.parse(lrpTime)) / 1000),
            ),
          )
        : h('span', { class: 'none' }, 'nothing restorable'),
    ),
    h(
      'td',
      { 'data-field': 'earliest' },
      erp
        ? h(
            'div',
            {},
            h('code', {}, erp.lsn),
            h(
              'div',
              { class: 'muted', title: formatTime(erp.time) },
              formatAgo(erp.time === null ? null : (nowMs - Date.parse(erp.time)) / 1000),
            ),
          )
        : '—',
    ),
    h('td', { 'data-field': 'lag' }, formatLength(later(cluster.recoveryPointLagSeconds))),
    h('td', { 'data-field': 'archive-age' }, formatAgo(later(cluster.archiveAgeSeconds))),
    h('td', { 'data-field': 'backup-age' }, formatAgo(later(cluster.backupAgeSeconds))),
    h('td', { 'data-field': 'problems', class: cluster.problems > 0 ? 'count-bad' : '' }, cluster.problems),
    h('td', { 'data-field': 'gaps', class: cluster.gaps > 0 ? 'count-bad' : '' }, cluster.gaps),
    h('td', { 'data-field': 'drill' }, renderDrillCell(cluster, nowMs)),
  );
}

/** "verified 3 h ago", with the last verdict when it is not a verification. */
function renderDrillCell(cluster: ClusterSummary, nowMs: number): HTMLElement | string {
  const drill = cluster.lastDrill;
  if (!drill) return '—';
  const verified = drill.lastVerifiedAt;
  return h(
    'div',
    { 'data-verdict': drill.verdict },
    h(
      'span',
      { title: formatTime(verified) },
      verified === null ? 'never verified' : `verified ${formatAgo(ageSeconds(verified, nowMs))}`,
    ),
    drill.verdict === 'verified'
      ? null
      : h(
          'div',
          {},
          h('span', { class: `badge drill-${drill.verdict}` }, DRILL_VERDICT_LABEL[drill.verdict]),
          ' ',
          h('span', { class: 'muted', title: formatTime(drill.finishedAt) }, 'last drill'),
        ),
  );
}
