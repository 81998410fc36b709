import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IAlarm,
  type IMetric,
  MathExpression,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  FRESHNESS_METRICS,
  MONITOR_NAMESPACE,
  type MonitorMetricName,
  monitorMetric,
} from './monitor-alarms.js';

/** What {@link createMonitorDashboard} shows. */
export interface MonitorDashboardSources {
  /** Alarms whose state the dashboard shows. */
  readonly alarms: readonly IAlarm[];
  /** Functions by job name, for errors and durations. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The ingest queue: depth and age of the oldest message. */
  readonly ingestQueue: IQueue;
  /** Its dead-letter queue: depth. */
  readonly deadLetterQueue: IQueue;
}

/**
 * A `SEARCH` over every cluster's series of one sweeper metric: one line per `Cluster` value, so a
 * cluster that appears after deployment shows up without a redeploy.
 */
export function perClusterSearch(name: MonitorMetricName, period = Duration.minutes(1)): MathExpression {
  return new MathExpression({
    expression: `SEARCH('{${MONITOR_NAMESPACE},service,Cluster} service="walwatch" MetricName="${name}"', 'Maximum', ${period.toSeconds()})`,
    usingMetrics: {},
    label: '',
    period,
  });
}

/**
 * The monitor's CloudWatch dashboard: alarm states, one graph per freshness metric with a line per
 * cluster (search expressions) next to the fleet maximum, sweeper runs, and the pipeline's health
 * (function errors and durations, queue depth and age, dead letters).
 */
export function createMonitorDashboard(
  scope: Construct,
  id: string,
  sources: MonitorDashboardSources,
): Dashboard {
  const dashboard = new Dashboard(scope, id, {
    defaultInterval: Duration.hours(24),
  });
  dashboard.addWidgets(
    new TextWidget({
      markdown:
        '## walwatch\nFreshness of every WAL-G archive (lines per cluster), sweeper liveness and the ingest pipeline. Reports: `GET /clusters` on the query API.',
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    new AlarmStatusWidget({ title: 'Alarms', alarms: [...sources.alarms], width: 24, height: 4 }),
  );
  dashboard.addWidgets(
    ...FRESHNESS_METRICS.map(
      (name) =>
        new GraphWidget({
          title: `${name} per cluster`,
          left: [perClusterSearch(name)],
          right: [monitorMetric(name).with({ label: 'fleet maximum', period: Duration.minutes(1) })],
          width: 8,
          height: 6,
        }),
    ),
    new GraphWidget({
      title: 'Sweeper runs',
      left: [monitorMetric('SweeperRuns')],
      width: 8,
      height: 6,
    }),
  );
  const functions = Object.entries(sources.functions);
  const each = (metric: (fn: IFunction, label: string) => IMetric): IMetric[] =>
    functions.map(([name, fn]) => metric(fn, name));
  dashboard.addWidgets(
    new GraphWidget({
      title: 'Function errors',
      left: each((fn, label) => fn.metricErrors({ statistic: 'Sum', label })),
      width: 8,
      height: 6,
    }),
    new GraphWidget({
      title: 'Function duration (p99)',
      left: each((fn, label) => fn.metricDuration({ statistic: 'p99', label })),
      width: 8,
      height: 6,
    }),
    new GraphWidget({
      title: 'Ingest queue',
      left: [
        sources.ingestQueue.metricApproximateNumberOfMessagesVisible({ label: 'visible' }),
        sources.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' }),
      ],
      right: [sources.ingestQueue.metricApproximateAgeOfOldestMessage({ label: 'oldest (s)' })],
      width: 8,
      height: 6,
    }),
  );
  return dashboard;
}
