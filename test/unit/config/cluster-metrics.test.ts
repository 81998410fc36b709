import { describe, expect, it } from 'vitest';
import {
  AUTO_CLUSTER_METRICS_MAX,
  clusterMetricsWanted,
  formatClusterMetricsPolicy,
  parseClusterMetricsPolicy,
} from '../../../shared/config/cluster-metrics.js';
import { ClusterSettingError } from '../../../shared/config/cluster-setting.js';

const NAME = 'WALWATCH_CLUSTER_METRICS';

describe('clusterMetricsWanted', () => {
  it('emits every cluster’s metrics by default up to the automatic fleet size, none above', () => {
    const policy = parseClusterMetricsPolicy(undefined, NAME);
    expect(clusterMetricsWanted(policy, 'spilo/a/wal/15', AUTO_CLUSTER_METRICS_MAX)).toBe(true);
    expect(clusterMetricsWanted(policy, 'spilo/a/wal/15', AUTO_CLUSTER_METRICS_MAX + 1)).toBe(false);
  });

  it('keeps the clusters a pattern names at any fleet size', () => {
    const policy = parseClusterMetricsPolicy('auto; on=spilo/orders/*,spilo/billing/wal/16', NAME);
    expect(clusterMetricsWanted(policy, 'spilo/orders/wal/15', 10_000)).toBe(true);
    expect(clusterMetricsWanted(policy, 'spilo/billing/wal/16', 10_000)).toBe(true);
    expect(clusterMetricsWanted(policy, 'spilo/other/wal/15', 10_000)).toBe(false);
  });

  it('turns a small fleet’s metrics off, except the named clusters', () => {
    const policy = parseClusterMetricsPolicy('off; on=spilo/orders/*', NAME);
    expect(clusterMetricsWanted(policy, 'spilo/other/wal/15', 3)).toBe(false);
    expect(clusterMetricsWanted(policy, 'spilo/orders/wal/15', 3)).toBe(true);
  });

  it('reads back what it formats', () => {
    const policy = parseClusterMetricsPolicy('auto; on=spilo/a/*,spilo/b/*; off=spilo/a/scratch/*', NAME);
    expect(parseClusterMetricsPolicy(formatClusterMetricsPolicy(policy), NAME)).toEqual(policy);
  });

  it('rejects an unknown mode naming the setting', () => {
    expect(() => parseClusterMetricsPolicy('some', NAME)).toThrow(ClusterSettingError);
    expect(() => parseClusterMetricsPolicy('some', NAME)).toThrow(
      /WALWATCH_CLUSTER_METRICS must be on, off or auto, got "some"/,
    );
  });
});
