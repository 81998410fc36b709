import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClusterSetting,
  ClusterSettingError,
  formatClusterSetting,
  parseClusterSetting,
  patternMatches,
  settingFor,
  settingValues,
} from '../../../shared/config/cluster-setting.js';

const NAME = 'WALWATCH_LEVEL';

/** A small value type for the generic parser: a level 0…9. */
function parseLevel(text: string, name: string): number {
  if (!/^\d$/.test(text))
    throw new ClusterSettingError(`${name} must be a level 0-9, got ${JSON.stringify(text)}`);
  return Number(text);
}

const parse = (text: string | undefined): ClusterSetting<number> =>
  parseClusterSetting(text, NAME, parseLevel, 5, 'level');

describe('parseClusterSetting', () => {
  it.each([undefined, '', ' ; '])('gives every cluster the fallback for %j', (text) => {
    expect(parse(text)).toEqual({ default: 5, clusters: [] });
  });

  it('reads a default and overrides in any order, keeping the order of the patterns', () => {
    expect(parse(' 7 = spilo/a/*, spilo/b ; 1 ;3=*/wal/9.6')).toEqual({
      default: 1,
      clusters: [
        { pattern: 'spilo/a/*', value: 7 },
        { pattern: 'spilo/b', value: 7 },
        { pattern: '*/wal/9.6', value: 3 },
      ],
    });
  });

  it('keeps the fallback when only overrides are given', () => {
    expect(parse('2=spilo/a').default).toBe(5);
  });

  it.each([
    ['x', /WALWATCH_LEVEL must be a level 0-9, got "x"/],
    ['12=spilo/a', /WALWATCH_LEVEL must be a level 0-9, got "12"/],
    ['1; 2', /WALWATCH_LEVEL names two default levels: 1 and 2/],
    ['1=', /WALWATCH_LEVEL: '1=' needs cluster ids or patterns/],
    ['1=a,,b', /'1=a,,b' needs cluster ids or patterns/],
    ['1=a b', /without spaces inside/],
    ['1=spilo/a/*; 2=spilo/a/*', /WALWATCH_LEVEL gives spilo\/a\/\* twice \(1 and 2\)/],
  ])('rejects %j with a message naming the setting', (text, message) => {
    expect(() => parse(text)).toThrow(ClusterSettingError);
    expect(() => parse(text)).toThrow(message);
  });
});

describe('formatClusterSetting', () => {
  it('groups overrides by value and reads back the same setting', () => {
    const setting = parse('1; 7=spilo/a/*; 3=spilo/c; 7=spilo/b');
    expect(formatClusterSetting(setting, (level) => `${level}`)).toBe('1; 7=spilo/a/*,spilo/b; 3=spilo/c');
  });

  it('reads back any setting it formats', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '/', '*', '.'), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.uniqueArray(fc.record({ pattern, value: fc.integer({ min: 0, max: 9 }) }), {
          selector: (entry) => entry.pattern,
          maxLength: 6,
        }),
        (fallback, clusters) => {
          const setting = { default: fallback, clusters };
          const back = parse(formatClusterSetting(setting, String));
          expect(back.default).toBe(fallback);
          expect([...back.clusters].sort(byPattern)).toEqual([...clusters].sort(byPattern));
          for (const { pattern: clusterId } of clusters)
            expect(settingFor(back, clusterId)).toBe(settingFor(setting, clusterId));
        },
      ),
    );
  });
});

describe('settingFor', () => {
  const setting = parse('0; 1=spilo/*; 2=spilo/scratch/*,*/wal/9.6; 3=spilo/scratch/wal/16; 4=x/*');

  it.each([
    ['elsewhere/db/wal/15', 0],
    ['spilo/orders/wal/15', 1],
    ['spilo/scratch/wal/15', 2],
    ['spilo/scratch/wal/16', 3],
    ['legacy/old/wal/9.6', 2],
  ])('gives %s the value of the most specific matching pattern: %s', (clusterId, level) => {
    expect(settingFor(setting, clusterId)).toBe(level);
  });

  it('breaks ties the same whatever order the overrides are written in', () => {
    // Equally many characters besides `*`: fewer `*` wins, then code-point order.
    expect(settingFor(parse('0; 1=a*; 2=a'), 'a')).toBe(2);
    expect(settingFor(parse('0; 2=a; 1=a*'), 'a')).toBe(2);
    expect(settingFor(parse('0; 1=a*; 2=*a'), 'aa')).toBe(2);
    expect(settingFor(parse('0; 2=*a; 1=a*'), 'aa')).toBe(2);
  });

  it('lists every value a cluster may get, the default first', () => {
    expect(settingValues(setting)).toEqual([0, 1, 2, 2, 3, 4]);
  });
});

describe('patternMatches', () => {
  it('matches * across slashes and anchors patterns at both ends', () => {
    expect(patternMatches('a*c*e', 'abcde')).toBe(true);
    expect(patternMatches('a*c*e', 'a/c/e')).toBe(true);
    expect(patternMatches('a*c*e', 'ace')).toBe(true);
    expect(patternMatches('a*c*e', 'abcdef')).toBe(false);
    expect(patternMatches('a*c*e', 'xabcde')).toBe(false);
    expect(patternMatches('ab*ba', 'aba')).toBe(false);
    expect(patternMatches('spilo/a', 'spilo/a')).toBe(true);
    expect(patternMatches('spilo/a', 'spilo/ab')).toBe(false);
  });

  it('agrees with a regular expression built from the pattern', () => {
    const toRegExp = (pattern: string): RegExp =>
      new RegExp(
        `^${pattern
          .split('*')
          .map((piece) => piece.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
          .join('.*')}$`,
      );
    const text = fc.string({ unit: fc.constantFrom('a', 'b', '/', '*'), maxLength: 8 });
    fc.assert(
      fc.property(
        text.filter((pattern) => pattern !== ''),
        fc.string({ unit: fc.constantFrom('a', 'b', '/'), maxLength: 10 }),
        (pattern, clusterId) => {
          const setting = { default: 0, clusters: [{ pattern, value: 1 }] };
          expect(settingFor(setting, clusterId) === 1).toBe(toRegExp(pattern).test(clusterId));
        },
      ),
    );
  });
});

function byPattern(a: { pattern: string }, b: { pattern: string }): number {
  return a.pattern < b.pattern ? -1 : a.pattern > b.pattern ? 1 : 0;
}
