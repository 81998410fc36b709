/// <reference lib="dom" />
/**
 * The fleet view: one row per cluster, worst first, with status, latest and earliest recoverable point and
 * ages in words.
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

/** Renders the fleet table. */
export function renderFleet(fleet: FleetResponse): HTMLElement {
  const nowMs = Date.parse(fleet.generatedAt);
  const clusters = sortWorstFirst(fleet.clusters);
  const counts = { critical: 0, warning: 0, ok: 0 };
  for (const cluster of clusters) counts[cluster.status]++;
  return h(
    'section',
    { class: 'fleet', 'aria-labelledby': 'fleet-title' },
    h('h2', { id: 'fleet-title' }, 'Clusters'),
    clusters.length === 0
      ? h(
          'p',
          { class: 'empty' },
          'No cluster seen yet: walwatch lists a cluster once its first WAL object arrives.',
        )
      : h(
          'p',
          { class: 'fleet-summary' },
          `${clusters.length} cluster${clusters.length === 1 ? '' : 's'}: `,
          `${counts.critical} critical, ${counts.warning} warning, ${counts.ok} OK`,
        ),
    clusters.length > 0 &&
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'fleet-table' },
          h('caption', { class: 'visually-hidden' }, 'Clusters, worst first'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[
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
              ].map((label) => h('th', { scope: 'col' }, label)),
            ),
          ),
          h('tbody', {}, ...clusters.map((cluster) => renderRow(cluster, nowMs))),
        ),
      ),
  );
}

function renderRow(cluster: ClusterSummary, nowMs: number): HTMLElement {
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
    h('td', { 'data-field': 'lag' }, formatLength(cluster.recoveryPointLagSeconds)),
    h('td', { 'data-field': 'archive-age' }, formatAgo(cluster.archiveAgeSeconds)),
    h('td', { 'data-field': 'backup-age' }, formatAgo(cluster.backupAgeSeconds)),
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
