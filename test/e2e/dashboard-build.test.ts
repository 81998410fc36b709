/**
 * The dashboard without a browser: the in-memory build and the words it uses for ages.
 */
import { describe, expect, it } from 'vitest';
import { buildDashboard, renderHostedDashboardPage } from '../../web/build.js';
import { formatAgo, formatDuration } from '../../web/format.js';
import { parseAwsSiteConfig } from '../../web/site-config.js';

const SITE_CONFIG = {
  apiUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com/',
  region: 'eu-central-1',
  userPoolId: 'eu-central-1_AbCdEf123',
  userPoolClientId: '1example23456789',
  identityPoolId: 'eu-central-1:11111111-2222-3333-4444-555555555555',
};

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

describe('buildDashboard with sign-in', () => {
  it('keeps the AWS SDK out of the page script and in sign-in.js, loaded at run time', async () => {
    const plain = await buildDashboard();
    expect(plain.signInJs).toBeUndefined();
    const built = await buildDashboard({ signIn: { configFile: 'config.json' } });
    expect(built.js).toContain('import("./sign-in.js")');
    for (const js of [plain.js, built.js]) {
      expect(js).not.toContain('InitiateAuth');
      expect(js).not.toContain('AWS4-HMAC-SHA256');
    }
    expect(built.signInJs).toContain('InitiateAuth');
    expect(built.signInJs).toContain('GetCredentialsForIdentity');
    expect(built.signInJs).toContain('AWS4-HMAC-SHA256');
    expect(built.html).toContain('<meta name="walwatch-config" content="config.json">');
  });

  it('writes the sign-in settings as meta tags and narrows the page to the API and Cognito', async () => {
    const config = { ...SITE_CONFIG, apiUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com' };
    const { html } = await buildDashboard({ signIn: { config } });
    expect(html).toContain('<meta name="walwatch-user-pool-id" content="eu-central-1_AbCdEf123">');
    expect(html).toContain(
      '<meta name="walwatch-api" content="https://abc123.execute-api.eu-central-1.amazonaws.com">',
    );
    expect(html).toContain(
      "connect-src 'self' https://abc123.execute-api.eu-central-1.amazonaws.com https://cognito-idp.eu-central-1.amazonaws.com https://cognito-identity.eu-central-1.amazonaws.com;",
    );
  });

  it('renders the hosted page the CDK deploys: config.json, and connections to the API and Cognito only', () => {
    const html = renderHostedDashboardPage('https://abc123.execute-api.eu-west-1.amazonaws.com', 'eu-west-1');
    expect(html).toContain('<meta name="walwatch-config" content="config.json">');
    expect(html).toMatch(
      /connect-src 'self' https:\/\/abc123\.execute-api\.eu-west-1\.amazonaws\.com https:\/\/cognito-idp\.eu-west-1\.amazonaws\.com https:\/\/cognito-identity\.eu-west-1\.amazonaws\.com;/,
    );
    expect(html).not.toContain('walwatch-user-pool-id');
  });
});

describe('parseAwsSiteConfig', () => {
  it('accepts a deployment config.json and drops the trailing slash of the API URL', () => {
    expect(parseAwsSiteConfig(SITE_CONFIG)).toEqual({
      ...SITE_CONFIG,
      apiUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com',
    });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ identityPoolId: undefined }, 'identityPoolId is missing'],
    [{ apiUrl: 'not a url' }, 'apiUrl is not a URL: not a url'],
    [{ apiUrl: 'http://abc123.execute-api.eu-central-1.amazonaws.com' }, 'apiUrl must use https'],
    [{ region: 'Frankfurt' }, 'region is not a region name: Frankfurt'],
    [{ userPoolId: 'us-east-1_AbCdEf123' }, 'userPoolId us-east-1_AbCdEf123 is not in region eu-central-1'],
  ])('rejects %j, naming the field', (change, message) => {
    const result = parseAwsSiteConfig({ ...SITE_CONFIG, ...change });
    expect('error' in result && result.error).toContain(message);
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
