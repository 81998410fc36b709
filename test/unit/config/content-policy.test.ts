import { describe, expect, it } from 'vitest';
import {
  type ContentMode,
  ContentPolicyError,
  contentModeFor,
  formatContentPolicy,
  parseContentPolicy,
  widestContentMode,
} from '../../../shared/config/content-policy.js';

const NAME = 'WALWATCH_READ_CONTENT';

describe('parseContentPolicy', () => {
  it.each([
    [undefined, 'chain-ends'],
    ['', 'chain-ends'],
    ['  ', 'chain-ends'],
    ['off', 'off'],
    ['false', 'off'],
    ['true', 'chain-ends'],
    ['chain-ends', 'chain-ends'],
    ['all', 'all'],
  ])('reads %j as the single mode %s for every cluster', (text, mode) => {
    expect(parseContentPolicy(text, NAME)).toEqual({ default: mode, clusters: [] });
  });

  it('reads a default and overrides, in any order, with spaces around the separators', () => {
    expect(
      parseContentPolicy(' all = spilo/orders/*, spilo/pay/wal/16 ; off ;chain-ends=spilo/x/*', NAME),
    ).toEqual({
      default: 'off',
      clusters: [
        { pattern: 'spilo/orders/*', value: 'all' },
        { pattern: 'spilo/pay/wal/16', value: 'all' },
        { pattern: 'spilo/x/*', value: 'chain-ends' },
      ],
    });
  });

  it('defaults to chain-ends when only overrides are given', () => {
    expect(parseContentPolicy('all=spilo/orders/*', NAME).default).toBe('chain-ends');
  });

  it.each([
    ['every', /WALWATCH_READ_CONTENT must be off, chain-ends or all, got "every"/],
    ['off; all', /names two default modes: off and all/],
    ['all=', /'all=' needs cluster ids or patterns/],
    ['all=a,,b', /'all=a,,b' needs cluster ids or patterns/],
    ['all=a b', /without spaces inside/],
    ['all=spilo/a/*; off=spilo/a/*', /gives spilo\/a\/\* twice \(all and off\)/],
    ['most=spilo/a', /must be off, chain-ends or all, got "most"/],
  ])('rejects %j with a message naming the setting', (text, message) => {
    expect(() => parseContentPolicy(text, NAME)).toThrow(ContentPolicyError);
    expect(() => parseContentPolicy(text, NAME)).toThrow(message);
  });
});

describe('contentModeFor', () => {
  const policy = parseContentPolicy(
    'chain-ends; all=spilo/*; off=spilo/scratch/*,*/wal/9.6; chain-ends=spilo/scratch/wal/16',
    NAME,
  );

  it.each([
    ['elsewhere/db/wal/15', 'chain-ends'],
    ['spilo/orders/wal/15', 'all'],
    ['spilo/scratch/wal/15', 'off'],
    ['spilo/scratch/wal/16', 'chain-ends'],
    ['legacy/old/wal/9.6', 'off'],
    ['spilo/old/wal/9.6', 'off'],
  ])('gives %s the most specific matching mode: %s', (clusterId, mode) => {
    expect(contentModeFor(policy, clusterId)).toBe(mode);
  });

  it('matches * across slashes and anchors patterns at both ends', () => {
    const anchored = parseContentPolicy('off; all=a*c*e', NAME);
    expect(contentModeFor(anchored, 'abcde')).toBe('all');
    expect(contentModeFor(anchored, 'a/c/e')).toBe('all');
    expect(contentModeFor(anchored, 'ace')).toBe('all');
    expect(contentModeFor(anchored, 'abcdef')).toBe('off');
    expect(contentModeFor(anchored, 'xabcde')).toBe('off');
    expect(contentModeFor(parseContentPolicy('off; all=ab*ba', NAME), 'aba')).toBe('off');
  });
});

describe('formatContentPolicy and widestContentMode', () => {
  it.each([
    ['off', 'off'],
    ['chain-ends; off=spilo/x/*', 'chain-ends'],
    ['off; chain-ends=spilo/x/*', 'chain-ends'],
    ['off; all=spilo/a, spilo/b; chain-ends=spilo/c', 'all'],
  ])('%s reads back the same and needs at most %s', (text, widest) => {
    const policy = parseContentPolicy(text, NAME);
    expect(parseContentPolicy(formatContentPolicy(policy), NAME)).toEqual(policy);
    expect(widestContentMode(policy)).toBe(widest as ContentMode);
  });
});
