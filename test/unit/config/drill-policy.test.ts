import { describe, expect, it } from 'vitest';
import { settingFor } from '../../../shared/config/cluster-setting.js';
import {
  drillsConfigured,
  formatDrillPolicy,
  parseDrillPolicy,
} from '../../../shared/config/drill-policy.js';

const HOUR = 3_600_000;

describe('parseDrillPolicy', () => {
  it.each([
    ['24h', { default: 24 * HOUR, clusters: [] }],
    ['off', { default: 'off', clusters: [] }],
    ['', { default: 'off', clusters: [] }],
    [
      '24h; off=spilo/scratch/*; 6h=spilo/orders/*,spilo/billing',
      {
        default: 24 * HOUR,
        clusters: [
          { pattern: 'spilo/scratch/*', value: 'off' },
          { pattern: 'spilo/orders/*', value: 6 * HOUR },
          { pattern: 'spilo/billing', value: 6 * HOUR },
        ],
      },
    ],
  ])('reads %j', (text, policy) => {
    expect(parseDrillPolicy(text, '--drill-every', 'off')).toEqual(policy);
  });

  it('gives the fallback to clusters no part names', () => {
    const policy = parseDrillPolicy('off=spilo/scratch/*', '--drill-every', 24 * HOUR);
    expect(settingFor(policy, 'spilo/scratch/tmp')).toBe('off');
    expect(settingFor(policy, 'spilo/orders/wal/15')).toBe(24 * HOUR);
  });

  it.each([
    ['soon', '--drill-every must be off or a duration of at least 1m such as 24h, got "soon"'],
    ['10s', '--drill-every must be off or a duration of at least 1m such as 24h, got "10s"'],
    ['24h; 12h', '--drill-every names two default periods: 24h and 12h'],
    ['24h; off=a b', "--drill-every: 'off=a b' needs cluster ids or patterns separated by commas"],
  ])('refuses %j', (text, message) => {
    expect(() => parseDrillPolicy(text, '--drill-every', 'off')).toThrow(message);
  });

  it('writes a policy back in its own syntax', () => {
    const text = '24h; off=spilo/scratch/*; 90m=spilo/orders/*';
    expect(formatDrillPolicy(parseDrillPolicy(text, 'x', 'off'))).toBe(text);
  });

  it('knows whether any cluster gets drills', () => {
    expect(drillsConfigured(parseDrillPolicy('off', 'x', 'off'))).toBe(false);
    expect(drillsConfigured(parseDrillPolicy('off; 7d=spilo/orders/*', 'x', 'off'))).toBe(true);
  });
});
