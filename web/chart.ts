/// <reference lib="dom" />
/**
 * The recoverability chart of one cluster, hand-drawn SVG: time runs left to right (top axis), with the LSN
 * axis below it; rows show the timelines of the lineage, the recoverable intervals as bands with gaps marked
 * on them, and the backups as points coloured by status. Vertical lines mark timeline switches, the latest
 * recoverable point and "now"; the stretch between the two is the recovery point lag.
 *
 * Only some LSNs have a known time (backup starts and finishes, interval ends, the latest archived
 * segment). Between them positions are interpolated linearly, which is what the LSN axis says. When no two
 * known points exist, the chart falls back to a pure LSN axis without "now".
 */
import type { BackupStatus, ClusterReport, GapReport } from '../shared/core/report.js';
import { h, s } from './dom.js';
import { formatLength, formatLsnPosition, formatTime, lsnPosition, segmentStartPosition } from './format.js';

const WIDTH = 1000;
const LEFT = 112;
const RIGHT = 24;
const TOP = 40;
const ROW = { timelines: TOP + 10, recoverable: TOP + 44, backups: TOP + 100 } as const;
const ROWS_BOTTOM = TOP + 122;
const HEIGHT = ROWS_BOTTOM + 46;

/** The words for each backup status, shown next to its colour. */
export const BACKUP_STATUS_LABEL: Readonly<Record<BackupStatus, string>> = {
  restorable: 'Restorable',
  'missing-wal': 'Missing WAL',
  'broken-chain': 'Broken chain',
  'in-progress': 'In progress',
  failed: 'Failed',
  invalid: 'Invalid',
};

/** A point whose LSN and time are both known. */
interface Anchor {
  readonly lsn: number;
  readonly ms: number;
}

/** Maps LSNs and times to x positions. */
interface Scale {
  readonly mode: 'time' | 'lsn';
  x(lsn: number): number;
  /** `null` in LSN mode: times have no position. */
  xOfTime(ms: number): number | null;
  /** The time at x, in time mode. */
  timeAt(x: number): number | null;
  /** The (interpolated) LSN at x. */
  lsnAt(x: number): number;
  readonly domainMs: readonly [number, number] | null;
  /** The x positions of the lowest and highest LSN the report mentions: the LSN axis spans these. */
  readonly lsnSpanX: readonly [number, number];
}

/** How to draw the chart. */
export interface ChartOptions {
  /** The report's time (`generatedAt`): "now" on the chart. */
  readonly nowMs: number;
  /** Called with an ISO time when someone clicks the chart (time mode), to plan a restore there. */
  readonly onPickTime?: (iso: string) => void;
}

/** Draws the chart of `report`. */
export function renderRecoverabilityChart(report: ClusterReport, options: ChartOptions): SVGSVGElement {
  const scale = buildScale(report, options.nowMs);
  const intervals = report.recoverableIntervals;
  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': describeChart(report),
    'data-mode': scale.mode,
  });
  svg.appendChild(s('title', {}, describeChart(report)));

  drawAxes(svg, scale);
  for (const [label, y] of [
    ['Timelines', ROW.timelines + 9],
    ['Recoverable', ROW.recoverable + 17],
    ['Backups', ROW.backups + 4],
  ] as const) {
    svg.appendChild(s('text', { x: 8, y, class: 'row-label' }, label));
  }

  // The recovery point lag: archived WAL (or wall-clock time) that no restore reaches yet.
  const lrp = report.latestRecoverable;
  const lrpX = lrp ? scale.x(lsnPosition(lrp.lsn) ?? 0) : null;
  const nowX = scale.xOfTime(options.nowMs);
  if (lrpX !== null && nowX !== null && nowX > lrpX + 1) {
    svg.appendChild(
      s(
        'rect',
        {
          'data-kind': 'lag',
          class: 'lag',
          x: lrpX,
          y: ROW.recoverable - 6,
          width: nowX - lrpX,
          height: 38,
        },
        s('title', {}, `Not recoverable: recovery point lag ${formatLength(report.recoveryPointLagSeconds)}`),
      ),
    );
  }

  drawTimelines(svg, report, scale);

  for (const interval of intervals) {
    const from = scale.x(lsnPosition(interval.fromLsn) ?? 0);
    const to = scale.x(lsnPosition(interval.toLsn) ?? 0);
    svg.appendChild(
      s(
        'rect',
        {
          'data-kind': 'interval',
          class: 'interval',
          x: from,
          y: ROW.recoverable,
          width: Math.max(2, to - from),
          height: 26,
          rx: 3,
        },
        s(
          'title',
          {},
          `Recoverable on timeline ${interval.timeline}: ${interval.fromLsn} (${formatTime(interval.fromTime)}) to ${interval.toLsn} (${formatTime(interval.toTime)}), from ${interval.backups.join(', ')}`,
        ),
      ),
    );
  }

  if (intervals.length === 0) {
    svg.appendChild(
      s(
        'text',
        { 'data-kind': 'nothing-recoverable', class: 'nothing', x: LEFT + 8, y: ROW.recoverable + 17 },
        'Nothing is recoverable: no backup can be restored',
      ),
    );
  }
  for (const gap of report.gaps) drawGap(svg, gap, report.segmentSize, scale);

  for (const backup of report.backups) {
    const position =
      lsnPosition(backup.finishLsn) ??
      lsnPosition(backup.startLsn) ??
      segmentStartPosition(backup.startSegment, report.segmentSize) ??
      0;
    const x = scale.x(position);
    svg.appendChild(
      s(
        'circle',
        {
          'data-kind': 'backup',
          'data-status': backup.status,
          'data-name': backup.name,
          class: `backup status-${backup.status}`,
          cx: x,
          cy: ROW.backups,
          r: 6,
        },
        s(
          'title',
          {},
          `${backup.name}: ${BACKUP_STATUS_LABEL[backup.status]}${backup.reason ? ` (${backup.reason})` : ''}; consistent at ${backup.finishLsn ?? '—'}, finished ${formatTime(backup.finishTime)}`,
        ),
      ),
    );
  }

  if (lrp && lrpX !== null) {
    svg.appendChild(
      s(
        'g',
        { 'data-kind': 'lrp', class: 'marker lrp' },
        s('line', { x1: lrpX, x2: lrpX, y1: ROW.timelines - 4, y2: ROWS_BOTTOM }),
        s(
          'text',
          { x: lrpX, y: ROWS_BOTTOM + 12, 'text-anchor': anchorFor(lrpX) },
          `latest recoverable ${lrp.lsn}`,
        ),
        s(
          'title',
          {},
          `Latest recoverable point ${lrp.lsn} on timeline ${lrp.timeline} (segment ${lrp.segment}, archived ${formatTime(lrp.archivedAt)})`,
        ),
      ),
    );
  }
  const erp = report.earliestRecoverable;
  const erpPosition = erp ? lsnPosition(erp.lsn) : null;
  if (erp && erpPosition !== null) {
    const x = scale.x(erpPosition);
    svg.appendChild(
      s(
        'g',
        { 'data-kind': 'erp', class: 'marker erp' },
        s('line', { x1: x, x2: x, y1: ROW.recoverable - 4, y2: ROW.recoverable + 30 }),
        s(
          'title',
          {},
          `Earliest recoverable point ${erp.lsn} (${formatTime(erp.time)}), backup ${erp.backup}`,
        ),
      ),
    );
  }
  if (nowX !== null) {
    svg.appendChild(
      s(
        'g',
        { 'data-kind': 'now', class: 'marker now' },
        s('line', { x1: nowX, x2: nowX, y1: TOP - 4, y2: ROWS_BOTTOM }),
        s('text', { x: nowX, y: ROWS_BOTTOM + 26, 'text-anchor': anchorFor(nowX) }, 'now'),
        s('title', {}, `Now: ${formatTime(new Date(options.nowMs).toISOString())}`),
      ),
    );
  }

  const pick = options.onPickTime;
  if (pick && scale.mode === 'time') {
    svg.dataset.pickable = 'true';
    // A transparent target behind the marks gives the empty plot area the crosshair; clicks on marks bubble
    // up to the SVG too, so the listener sits there.
    const overlay = s('rect', {
      class: 'pick',
      x: LEFT,
      y: TOP,
      width: WIDTH - LEFT - RIGHT,
      height: ROWS_BOTTOM - TOP,
    });
    svg.insertBefore(overlay, svg.querySelector('[data-kind]'));
    svg.addEventListener('click', (event) => {
      const box = svg.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * WIDTH;
      const y = ((event.clientY - box.top) / box.height) * HEIGHT;
      if (x < LEFT || x > WIDTH - RIGHT || y < TOP || y > ROWS_BOTTOM) return;
      const ms = scale.timeAt(x);
      if (ms !== null) pick(new Date(Math.round(ms / 1000) * 1000).toISOString());
    });
  }
  return svg;
}

/** The legend under the chart: every colour with its words. */
export function renderChartLegend(pickable: boolean): HTMLElement {
  const item = (className: string, label: string) =>
    h('li', {}, h('span', { class: `swatch ${className}`, 'aria-hidden': 'true' }), label);
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Chart legend' },
    item('interval', 'recoverable interval'),
    item('gap-critical', 'gap (critical)'),
    item('gap-warning', 'gap (warning)'),
    item('gap-other', 'gap (pending or acknowledged)'),
    item('lag', 'not yet recoverable'),
    item('status-restorable', 'backup restorable'),
    item('status-bad', 'backup not restorable'),
    item('status-in-progress', 'backup in progress'),
    item('switch', 'timeline switch'),
    pickable ? h('li', {}, 'Click the chart to plan a restore to that time.') : null,
  );
}

function describeChart(report: ClusterReport): string {
  const lrp = report.latestRecoverable;
  const erp = report.earliestRecoverable;
  const range = lrp && erp ? `recoverable from ${erp.lsn} to ${lrp.lsn}` : 'nothing recoverable';
  return `${report.id}: ${range}; ${report.recoverableIntervals.length} recoverable intervals, ${report.gaps.length} gaps, ${report.backups.length} backups, ${report.timelines.filter((t) => t.inLineage).length} timelines on the lineage`;
}

function anchorFor(x: number): 'start' | 'middle' | 'end' {
  return x > WIDTH - 160 ? 'end' : x < LEFT + 80 ? 'start' : 'middle';
}

function drawGap(svg: SVGSVGElement, gap: GapReport, segmentSize: number, scale: Scale): void {
  const from = segmentStartPosition(gap.firstSegment, segmentSize);
  const last = segmentStartPosition(gap.lastSegment, segmentSize);
  if (from === null || last === null) return;
  const x1 = scale.x(from);
  const x2 = scale.x(last + segmentSize);
  const width = Math.max(4, x2 - x1);
  const tone = gap.status === 'lost' ? `gap-${gap.severity}` : 'gap-other';
  svg.appendChild(
    s(
      'g',
      { 'data-kind': 'gap', 'data-gap': gap.id, 'data-status': gap.status, class: `gap ${tone}` },
      s('rect', { x: x1 - (width - (x2 - x1)) / 2, y: ROW.recoverable - 8, width, height: 42 }),
      s('path', {
        d: `M${(x1 + x2) / 2 - 6},${ROW.recoverable - 16} h12 l-6,8 z`,
      }),
      s(
        'title',
        {},
        `Gap ${gap.firstSegment}${gap.count > 1 ? `…${gap.lastSegment}` : ''} (${gap.count} segment${gap.count === 1 ? '' : 's'}) on timeline ${gap.timeline}: ${gap.status}, ${gap.severity}`,
      ),
    ),
  );
}

function drawTimelines(svg: SVGSVGElement, report: ClusterReport, scale: Scale): void {
  const lineage = report.timelines.filter((t) => t.inLineage).sort((a, b) => a.id - b.id);
  for (const [index, timeline] of lineage.entries()) {
    const next = lineage[index + 1];
    const begin = timeline.switchLsn === null ? null : lsnPosition(timeline.switchLsn);
    const end = next?.switchLsn ? lsnPosition(next.switchLsn) : null;
    const x1 = begin === null ? LEFT : scale.x(begin);
    const x2 = end === null ? WIDTH - RIGHT : scale.x(end);
    svg.appendChild(
      s(
        'g',
        { 'data-kind': 'timeline', 'data-timeline': timeline.id, class: `timeline tl-${index % 2}` },
        s('rect', { x: x1, y: ROW.timelines, width: Math.max(1, x2 - x1), height: 14, rx: 2 }),
        x2 - x1 > 40 ? s('text', { x: x1 + 6, y: ROW.timelines + 11 }, `TL ${timeline.id}`) : null,
        s(
          'title',
          {},
          `Timeline ${timeline.id}${timeline.parent !== null ? ` (from ${timeline.parent})` : ''}: ${timeline.segments} segments, ${timeline.firstSegment ?? '—'} to ${timeline.lastSegment ?? '—'}`,
        ),
      ),
    );
    if (begin !== null && timeline.parent !== null) {
      svg.appendChild(
        s(
          'g',
          { 'data-kind': 'switch', 'data-timeline': timeline.id, class: 'marker switch' },
          s('line', { x1, x2: x1, y1: ROW.timelines - 6, y2: ROWS_BOTTOM }),
          s('text', { x: x1 + 3, y: ROW.timelines - 8 }, `→ TL ${timeline.id}`),
          s(
            'title',
            {},
            `Switch from timeline ${timeline.parent} to ${timeline.id} at ${timeline.switchLsn ?? '—'}`,
          ),
        ),
      );
    }
  }
}

function drawAxes(svg: SVGSVGElement, scale: Scale): void {
  const axis = s('g', { class: 'axis' });
  axis.appendChild(s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: TOP, y2: TOP }));
  axis.appendChild(s('line', { x1: LEFT, x2: WIDTH - RIGHT, y1: ROWS_BOTTOM, y2: ROWS_BOTTOM }));
  if (scale.domainMs) {
    for (const tick of timeTicks(scale.domainMs)) {
      const x = scale.xOfTime(tick.ms);
      if (x === null) continue;
      axis.appendChild(s('line', { class: 'grid', x1: x, x2: x, y1: TOP, y2: ROWS_BOTTOM }));
      axis.appendChild(s('text', { x, y: TOP - 8, 'text-anchor': 'middle' }, tick.label));
    }
  }
  // LSN labels only where the report has WAL, so the padded edges never show made-up positions.
  const [fromX, toX] = scale.lsnSpanX;
  const steps = 4;
  for (let i = 0; i <= steps; i++) {
    const x = fromX + ((toX - fromX) * i) / steps;
    axis.appendChild(s('line', { x1: x, x2: x, y1: ROWS_BOTTOM, y2: ROWS_BOTTOM + 4 }));
    axis.appendChild(
      s(
        'text',
        { x, y: HEIGHT - 4, 'text-anchor': i === 0 ? 'start' : i === steps ? 'end' : 'middle' },
        formatLsnPosition(scale.lsnAt(x)),
      ),
    );
  }
  axis.appendChild(
    s('text', { x: 8, y: HEIGHT - 4, class: 'row-label' }, scale.mode === 'time' ? 'LSN (≈)' : 'LSN'),
  );
  axis.appendChild(s('text', { x: 8, y: TOP - 8, class: 'row-label' }, scale.mode === 'time' ? 'UTC' : ''));
  svg.appendChild(axis);
}

const TICK_STEPS_MS = [
  10_000,
  30_000,
  60_000,
  5 * 60_000,
  15 * 60_000,
  30 * 60_000,
  3_600_000,
  3 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
  86_400_000,
  2 * 86_400_000,
  7 * 86_400_000,
  30 * 86_400_000,
];

function timeTicks([from, to]: readonly [number, number]): Array<{ ms: number; label: string }> {
  const span = to - from;
  const step = TICK_STEPS_MS.find((candidate) => span / candidate <= 7) ?? span / 6;
  const ticks: Array<{ ms: number; label: string }> = [];
  let previousDay = '';
  for (let ms = Math.ceil(from / step) * step; ms <= to; ms += step) {
    const iso = new Date(ms).toISOString();
    const day = iso.slice(5, 10);
    // Seconds only when ticks are closer than a minute (a young cluster, or a short demo).
    const clock = iso.slice(11, step < 60_000 ? 19 : 16);
    ticks.push({ ms, label: step >= 86_400_000 ? day : day !== previousDay ? `${day} ${clock}` : clock });
    previousDay = day;
  }
  return ticks;
}

/** Every (LSN, time) pair the report knows, increasing in both. */
function collectAnchors(report: ClusterReport): Anchor[] {
  const pairs: Anchor[] = [];
  const add = (lsn: string | null, time: string | null): void => {
    const position = lsnPosition(lsn);
    const ms = time === null ? Number.NaN : Date.parse(time);
    if (position !== null && !Number.isNaN(ms)) pairs.push({ lsn: position, ms });
  };
  for (const interval of report.recoverableIntervals) {
    add(interval.fromLsn, interval.fromTime);
    add(interval.toLsn, interval.toTime);
  }
  for (const backup of report.backups) {
    add(backup.startLsn, backup.startTime);
    add(backup.finishLsn, backup.finishTime);
  }
  const lrp = report.latestRecoverable;
  if (lrp) {
    add(lrp.lsn, lrp.archivedAt);
    add(lrp.lastCommitLsn, lrp.lastCommitTime);
  }
  const erp = report.earliestRecoverable;
  if (erp) add(erp.lsn, erp.time);
  pairs.sort((a, b) => a.lsn - b.lsn || a.ms - b.ms);
  const anchors: Anchor[] = [];
  for (const pair of pairs) {
    const last = anchors.at(-1);
    // WAL positions only grow with time: drop a pair that would make the map fold back.
    if (!last || (pair.lsn > last.lsn && pair.ms > last.ms)) anchors.push(pair);
  }
  return anchors;
}

/** The LSN range the chart must show. */
function lsnExtent(report: ClusterReport): [number, number] {
  const positions: number[] = [];
  const push = (value: number | null): void => {
    if (value !== null) positions.push(value);
  };
  for (const interval of report.recoverableIntervals) {
    push(lsnPosition(interval.fromLsn));
    push(lsnPosition(interval.toLsn));
  }
  for (const backup of report.backups) {
    push(lsnPosition(backup.startLsn) ?? segmentStartPosition(backup.startSegment, report.segmentSize));
    push(lsnPosition(backup.finishLsn));
  }
  for (const gap of report.gaps) {
    push(segmentStartPosition(gap.firstSegment, report.segmentSize));
    const last = segmentStartPosition(gap.lastSegment, report.segmentSize);
    push(last === null ? null : last + report.segmentSize);
  }
  for (const timeline of report.timelines) {
    if (!timeline.inLineage) continue;
    push(lsnPosition(timeline.switchLsn));
    if (timeline.firstSegment) push(segmentStartPosition(timeline.firstSegment, report.segmentSize));
  }
  if (report.headSegment) {
    const head = segmentStartPosition(report.headSegment, report.segmentSize);
    push(head === null ? null : head + report.segmentSize);
  }
  if (positions.length === 0) return [0, report.segmentSize];
  const low = Math.min(...positions);
  const high = Math.max(...positions);
  return high > low ? [low, high] : [low, low + report.segmentSize];
}

/**
 * The piecewise-linear function through the points (`xs[i]`, `ys[i]`), both strictly increasing, continued
 * past the ends with `edgeSlope`.
 */
function piecewiseLinear(
  xs: readonly number[],
  ys: readonly number[],
  edgeSlope: number,
): (value: number) => number {
  const n = xs.length - 1;
  const x = (i: number): number => xs[i] ?? 0;
  const y = (i: number): number => ys[i] ?? 0;
  return (value) => {
    if (value <= x(0)) return y(0) - (x(0) - value) * edgeSlope;
    if (value >= x(n)) return y(n) + (value - x(n)) * edgeSlope;
    const i = xs.findIndex((candidate) => candidate >= value);
    return y(i - 1) + ((value - x(i - 1)) / (x(i) - x(i - 1))) * (y(i) - y(i - 1));
  };
}

function buildScale(report: ClusterReport, nowMs: number): Scale {
  const inner = WIDTH - LEFT - RIGHT;
  const anchors = collectAnchors(report);
  const [lowLsn, highLsn] = lsnExtent(report);
  const first = anchors[0];
  const last = anchors.at(-1);
  if (!first || !last || anchors.length < 2) {
    const pad = (highLsn - lowLsn) * 0.03;
    const low = lowLsn - pad;
    const span = highLsn + pad - low;
    return {
      mode: 'lsn',
      x: (lsn) => LEFT + ((lsn - low) / span) * inner,
      xOfTime: () => null,
      timeAt: () => null,
      lsnAt: (x) => low + ((x - LEFT) / inner) * span,
      domainMs: null,
      lsnSpanX: [LEFT + ((lowLsn - low) / span) * inner, LEFT + ((highLsn - low) / span) * inner],
    };
  }
  // Beyond the known points, WAL is assumed to flow at the average rate between the first and the last.
  const rate = (last.lsn - first.lsn) / (last.ms - first.ms);
  const lsns = anchors.map((anchor) => anchor.lsn);
  const times = anchors.map((anchor) => anchor.ms);
  const msOfLsn = piecewiseLinear(lsns, times, 1 / rate);
  const lsnOfMs = piecewiseLinear(times, lsns, rate);
  const lowMs = Math.min(msOfLsn(lowLsn), first.ms);
  const highMs = Math.max(msOfLsn(highLsn), last.ms, nowMs);
  const pad = (highMs - lowMs) * 0.03 || 60_000;
  const domain: [number, number] = [lowMs - pad, highMs + pad];
  const span = domain[1] - domain[0];
  const xOfTime = (ms: number): number => LEFT + ((ms - domain[0]) / span) * inner;
  const timeAt = (x: number): number => domain[0] + ((x - LEFT) / inner) * span;
  return {
    mode: 'time',
    x: (lsn) => xOfTime(msOfLsn(lsn)),
    xOfTime,
    timeAt,
    lsnAt: (x) => lsnOfMs(timeAt(x)),
    domainMs: domain,
    lsnSpanX: [xOfTime(msOfLsn(lowLsn)), xOfTime(msOfLsn(highLsn))],
  };
}
