/**
 * Sweep metrics as CloudWatch Embedded Metric Format through Powertools: one EMF document per cluster whose
 * own metrics are wanted (the `Cluster` dimension), and the fleet-wide values on the function's `Metrics`,
 * flushed by the `logMetrics` middleware with the run's other metrics.
 */
import { Metrics, MetricUnit, type Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import type { ClusterMetrics } from '../core/metrics.js';

/** Namespace of every walwatch metric. */
export const METRICS_NAMESPACE = 'walwatch';

/** An `emitMetrics` for the sweep that writes EMF: per cluster at once, fleet-wide into `fleet`. */
export function createEmfEmitter(
  fleet: PowertoolsMetrics,
): (cluster: string | null, values: ClusterMetrics) => void {
  return (cluster, values) => {
    const target =
      cluster === null
        ? fleet
        : new Metrics({
            namespace: METRICS_NAMESPACE,
            serviceName: 'walwatch',
            defaultDimensions: { Cluster: cluster },
          });
    for (const [name, value] of Object.entries(values)) {
      if (typeof value !== 'number') continue;
      target.addMetric(name, name.endsWith('Seconds') ? MetricUnit.Seconds : MetricUnit.Count, value);
    }
    if (cluster !== null) target.publishStoredMetrics();
  };
}
