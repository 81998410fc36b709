/**
 * The dashboard without a browser: the in-memory build and the words it uses for ages.
 */
import { describe, expect, it } from 'vitest';
import { buildDashboard } from '../../web/build.js';
import { formatAgo, formatDuration } from '../../web/format.js';

describe('buildDashboard', () => {
  it('bundles one minified ESM script and a page that loads it by relative URL', async () => {
    const built = await buildDashboard({ apiBase: 'https://api.example.com/prod?"<x>' });
    expect(built.html).toContain('<script type="module" src="dashboard.js"></script>');
    expect(built.html).toContain('<link rel="stylesheet" href="dashboard.css">');
    expect(built.html).toContain(
      '<meta name="walwatch-api" content="https://api.example.com/prod?&quot;&lt;x>">',
    );
    expect((await buildDashboard()).html).not.toContain('walwatch-api');
    // Bundled: no import of another module is left for the browser to resolve.
    expect(built.js).not.toMatch(/\bimport\s*[{*"'\w]/);
    expect(built.js.split('\n').length).toBeLessThan(5);
    expect(built.css).toContain('.badge');
  });
});

describe('formatAgo', () => {
  it.each([
    [null, '—'],
    [2, 'just now'],
    [45, '45 s ago'],
    [61, '1 min 1 s ago'],
    [12 * 60, '12 min ago'],
    [3 * 3600 + 5 * 60 + 9, '3 h 5 min ago'],
    [2 * 86_400 + 7, '2 d ago'],
    [27 * 3600 + 50 * 60, '1 d 3 h ago'],
    [-90, '1 min 30 s in the future'],
  ])('says %s seconds as %s', (seconds, words) => {
    expect(formatAgo(seconds)).toBe(words);
  });

  it('keeps the two largest units of a duration', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(86_400 + 3_600 + 60 + 1)).toBe('1 d 1 h');
  });
});
