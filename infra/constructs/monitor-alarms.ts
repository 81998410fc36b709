import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** CloudWatch namespace of the sweeper's metrics (`functions/sweeper.ts`). */
export const MONITOR_NAMESPACE = 'walwatch';

/** The dimension Powertools adds to every sweeper metric (`serviceName: 'walwatch'`). */
export const SERVICE_DIMENSION = { service: 'walwatch' } as const;

/** Freshness metrics the sweeper emits per cluster (dimension `Cluster`) and as fleet-wide maxima. */
export const FRESHNESS_METRICS = [
  'ArchiveAgeSeconds',
  'BackupAgeSeconds',
  'RecoveryPointLagSeconds',
  'LostGapSegments',
  'CriticalProblems',
] as const;

/** One of {@link FRESHNESS_METRICS}, or the sweeper's liveness count. */
export type MonitorMetricName = (typeof FRESHNESS_METRICS)[number] | 'SweeperRuns';

/**
 * The alarm defaults, in one place: every walwatch alarm evaluates 5-minute periods (the sweeper
 * emits each minute, so a period holds about five points and one late run does not flap).
 */
export const ALARM_DEFAULTS = {
  period: Duration.minutes(5),
  evaluationPeriods: 1,
  /** The sweeper liveness alarm waits two silent periods: a skipped schedule tick is not an outage. */
  livenessEvaluationPeriods: 2,
  /** Messages in the ingest queue older than this mean ingest is falling behind. */
  maxIngestQueueAge: Duration.minutes(15),
} as const;

/** A sweeper metric, fleet-wide (`cluster` undefined) or for one cluster. */
export function monitorMetric(name: MonitorMetricName, cluster?: string): Metric {
  return new Metric({
    namespace: MONITOR_NAMESPACE,
    metricName: name,
    dimensionsMap:
      cluster === undefined ? { ...SERVICE_DIMENSION } : { ...SERVICE_DIMENSION, Cluster: cluster },
    statistic: name === 'SweeperRuns' ? 'Sum' : 'Maximum',
    period: ALARM_DEFAULTS.period,
  });
}

/** What one alarm watches and how; the rest comes from {@link ALARM_DEFAULTS}. */
export interface MonitorAlarmSpec {
  /** Construct id, PascalCase. */
  readonly id: string;
  /** The metric, with its statistic and period. */
  readonly metric: IMetric;
  /** The value compared with the metric. */
  readonly threshold: number;
  /** How the metric is compared with the threshold. */
  readonly comparison: ComparisonOperator;
  /** Why missing data means what it means for this metric (see {@link createMonitorAlarms}). */
  readonly missing: TreatMissingData;
  /** What firing means, for the alarm e-mail. */
  readonly description: string;
  /**
   * Periods that must all breach.
   *
   * @default ALARM_DEFAULTS.evaluationPeriods
   */
  readonly evaluationPeriods?: number;
}

/** Thresholds shared by the alarms and the sweeper's alert e-mails. */
export interface FreshnessThresholds {
  /** Archive age above which `ArchiveAgeSeconds` alarms. */
  readonly maxArchiveAge: Duration;
  /** Backup age above which `BackupAgeSeconds` alarms. */
  readonly maxBackupAge: Duration;
}

/**
 * The freshness alarms of the fleet (no `Cluster` dimension, so clusters found after deployment are
 * covered) or of one declared cluster, plus the fleet's sweeper liveness alarm.
 *
 * Missing data: the sweeper always emits `LostGapSegments` and `CriticalProblems` (0 when fine) and the
 * ages only when they exist (no cluster yet, no restorable backup — the latter is a critical problem).
 * So for the fleet, missing freshness data means "no value" or "no sweep", and no sweep is what the
 * liveness alarm (missing = breaching) reports; the freshness alarms treat it as not breaching so one
 * outage is one alarm. A *declared* cluster that the sweeper stops reporting at all is wrong (renamed
 * root, events never arrive), so its `CriticalProblems` alarm treats missing data as breaching.
 */
export function freshnessAlarmSpecs(thresholds: FreshnessThresholds, cluster?: string): MonitorAlarmSpec[] {
  const who = cluster === undefined ? 'Any cluster' : `Cluster ${cluster}`;
  const prefix = cluster === undefined ? 'Fleet' : '';
  const specs: MonitorAlarmSpec[] = [
    {
      id: `${prefix}ArchiveAge`,
      metric: monitorMetric('ArchiveAgeSeconds', cluster),
      threshold: thresholds.maxArchiveAge.toSeconds(),
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description: `${who}: newest archived WAL is older than ${thresholds.maxArchiveAge.toHumanString()}.`,
    },
    {
      id: `${prefix}BackupAge`,
      metric: monitorMetric('BackupAgeSeconds', cluster),
      threshold: thresholds.maxBackupAge.toSeconds(),
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description: `${who}: newest restorable base backup is older than ${thresholds.maxBackupAge.toHumanString()}.`,
    },
    {
      id: `${prefix}LostGapSegments`,
      metric: monitorMetric('LostGapSegments', cluster),
      threshold: 0,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      missing: TreatMissingData.NOT_BREACHING,
      description: `${who}: WAL segments are missing for good (a lost gap breaks point-in-time recovery).`,
    },
    {
      id: `${prefix}CriticalProblems`,
      metric: monitorMetric('CriticalProblems', cluster),
      threshold: 0,
      comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
      missing: cluster === undefined ? TreatMissingData.NOT_BREACHING : TreatMissingData.BREACHING,
      description:
        cluster === undefined
          ? 'Any cluster: the archive has a critical problem (see the alert e-mail or GET /clusters).'
          : `Cluster ${cluster}: the archive has a critical problem, or the sweeper does not report the cluster at all.`,
    },
  ];
  if (cluster === undefined) {
    specs.push({
      id: 'SweeperSilent',
      metric: monitorMetric('SweeperRuns'),
      threshold: 1,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      missing: TreatMissingData.BREACHING,
      evaluationPeriods: ALARM_DEFAULTS.livenessEvaluationPeriods,
      description:
        'The sweeper has not finished a run for 10 minutes: no metrics, no alert e-mails (check its Errors and logs).',
    });
  }
  return specs;
}

/** Creates one alarm per spec, each notifying `topic` when it fires and when it clears. */
export function createMonitorAlarms(
  scope: Construct,
  specs: readonly MonitorAlarmSpec[],
  topic: ITopic,
): Alarm[] {
  const action = new SnsAction(topic);
  return specs.map((spec) => {
    const evaluationPeriods = spec.evaluationPeriods ?? ALARM_DEFAULTS.evaluationPeriods;
    const alarm = new Alarm(scope, spec.id, {
      metric: spec.metric,
      threshold: spec.threshold,
      comparisonOperator: spec.comparison,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      treatMissingData: spec.missing,
      alarmDescription: spec.description,
    });
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    return alarm;
  });
}
