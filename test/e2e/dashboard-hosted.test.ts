/**
 * The hosted dashboard in a real browser, end to end: the site as the CDK deploys it (the same page, scripts
 * and `config.json`) on one origin, the API on another, so CORS is real; Cognito on moto_server; and the
 * API behind a stand-in for API Gateway's IAM authorization and CORS (`test/support/signed-api-stand-in.ts`,
 * which says what it checks and what it cannot), in front of the real API router over the dashboard
 * fixture's clusters.
 *
 * The page calls Cognito's real host names (`https://cognito-idp.eu-central-1.amazonaws.com`, …): Chromium
 * resolves them to a local HTTPS endpoint (`--host-resolver-rules`; its throw-away certificate is accepted
 * with `ignoreHTTPSErrors`) that forwards to moto and records the credentials the identity pool issues, so
 * the stand-in can check signatures with their secret. Every other AWS host resolves nowhere: nothing reaches
 * AWS. No request interception is used, because Playwright answers CORS preflights itself when it
 * intercepts: every preflight here is the browser's own. Screenshots go to `test-artifacts/dashboard/`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DASHBOARD_FILES, renderHostedDashboardPage, writeDashboardAssetsSync } from '../../web/build.js';
import type { AwsSiteConfig } from '../../web/site-config.js';
import {
  type CognitoEndpoint,
  cognitoHostRules,
  createSignInPools,
  createUser,
  freshTotpCode,
  type SignInPools,
  startCognitoEndpoint,
} from '../support/cognito-moto.js';
import { type DashboardServer, FIXTURE_CLUSTERS, startDashboardServer } from '../support/dashboard-server.js';
import { type LocalMoto, MOTO_REGION, motoAvailable, startMoto } from '../support/moto.js';
import {
  type IssuedCredentials,
  type SignedApiStandIn,
  startSignedApiStandIn,
} from '../support/signed-api-stand-in.js';
import { type StaticSite, serveDirectory } from '../support/static-site.js';

const CHROMIUM = process.env.WALWATCH_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'dashboard');
const TEMPORARY_PASSWORD = 'Temporary-Passw0rd!';
const NEW_PASSWORD = 'Correct-Horse-Battery-5taple';
const available = motoAvailable();

let moto: LocalMoto;
let pools: SignInPools;
let fixture: DashboardServer;
let api: SignedApiStandIn;
let site: StaticSite;
let siteDir: string;
let browser: Browser | undefined;
let page: Page;
/** Console errors of the page; a test removes the ones it provokes. */
let pageErrors: string[];
/** Credentials the identity pool issued, by access key id (what the stand-in checks signatures with). */
const issued = new Map<string, IssuedCredentials>();
/** Cognito under its own host names, in front of moto. */
let cognito: CognitoEndpoint;

function openPage(from: Browser): Promise<Page> {
  // The local Cognito endpoint's certificate is self-signed.
  return from.newPage({
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
    ignoreHTTPSErrors: true,
  });
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function heading(): Promise<string | null> {
  return page.locator('#sign-in-title').textContent();
}

/** Waits for the sign-in step titled `title` (no `expect`, so set-up hooks may use it too). */
async function step(title: string): Promise<void> {
  await page.locator('#sign-in-title', { hasText: title }).waitFor();
}

async function submitForm(values: Record<string, string>): Promise<void> {
  for (const [name, value] of Object.entries(values)) await page.locator(`#sign-in-${name}`).fill(value);
  await page.locator('form.sign-in-form button[type="submit"]').click();
}

/** Signs a new user in for the first time: temporary password, new password, authenticator set-up. */
async function firstSignIn(username: string, origin = site.url): Promise<string> {
  await createUser(moto.endpoint, pools, username, TEMPORARY_PASSWORD);
  await page.goto(origin);
  await step('Sign in');
  await submitForm({ username, password: TEMPORARY_PASSWORD });
  await step('Choose a new password');
  await submitForm({ password: NEW_PASSWORD, repeat: NEW_PASSWORD });
  await step('Set up your authenticator app');
  const secret = ((await page.locator('[data-field="totp-secret"]').textContent()) ?? '').replace(/\s/g, '');
  await submitForm({ code: await freshTotpCode(secret) });
  await page.locator('tr[data-cluster]').first().waitFor();
  return secret;
}

/** A later sign-in: password, then the authenticator's code. */
async function signIn(username: string, secret: string, origin = site.url): Promise<void> {
  await page.goto(origin);
  await step('Sign in');
  await submitForm({ username, password: NEW_PASSWORD });
  await step('Enter your one-time code');
  await submitForm({ code: await freshTotpCode(secret) });
}

beforeAll(async () => {
  if (!available) return;
  await mkdir(ARTIFACTS, { recursive: true });
  [moto, fixture] = await Promise.all([
    startMoto({ env: { MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP: 'true' } }),
    startDashboardServer(),
  ]);
  pools = await createSignInPools(moto.endpoint, MOTO_REGION);
  cognito = await startCognitoEndpoint({
    motoEndpoint: moto.endpoint,
    pools: () => pools,
    onCredentials: (credentials) => issued.set(credentials.accessKeyId, credentials),
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      `--host-resolver-rules=${cognitoHostRules(MOTO_REGION, cognito.port)}`,
    ],
  });
  siteDir = await mkdtemp(join(tmpdir(), 'walwatch-hosted-'));
  site = await serveDirectory(siteDir, DASHBOARD_FILES.page);
  api = await startSignedApiStandIn({
    allowedOrigin: site.url,
    region: MOTO_REGION,
    credentials: issued,
    handle: async (request) => {
      const url = new URL(request.url);
      const answer = await fetch(`${fixture.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        ...(request.method === 'POST' ? { body: await request.text() } : {}),
      });
      // The fixture server allows any origin; API Gateway's CORS answer is the stand-in's alone.
      const headers = new Headers();
      answer.headers.forEach((value, name) => {
        if (!name.startsWith('access-control-')) headers.set(name, value);
      });
      return new Response(await answer.arrayBuffer(), { status: answer.status, headers });
    },
  });
  // The site exactly as the CDK publishes it: the page, the bundles and config.json.
  writeDashboardAssetsSync(siteDir);
  await writeFile(join(siteDir, DASHBOARD_FILES.page), renderHostedDashboardPage(api.url, MOTO_REGION));
  const config: AwsSiteConfig = {
    apiUrl: api.url,
    region: pools.region,
    userPoolId: pools.userPoolId,
    userPoolClientId: pools.userPoolClientId,
    identityPoolId: pools.identityPoolId,
  };
  await writeFile(join(siteDir, DASHBOARD_FILES.config), JSON.stringify(config));
});

afterAll(async () => {
  if (!available) return;
  await browser?.close();
  await Promise.all([api?.close(), site?.close(), fixture?.close(), cognito?.close(), moto?.stop()]);
  await rm(siteDir, { recursive: true, force: true });
});

beforeEach(async () => {
  if (!available) return;
  if (!browser) throw new Error('Chromium did not start');
  page = await openPage(browser);
  pageErrors = [];
  cognito.calls.length = 0;
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
});

afterEach(async () => {
  if (!available) return;
  await page.close();
  expect(cognito.refusedLogins).toEqual([]);
  expect(pageErrors).toEqual([]);
});

describe.skipIf(!available)('hosted dashboard sign-in', () => {
  it('signs an administrator-created user in: new password, authenticator set-up, then signed reads and writes', async () => {
    await page.goto(site.url);
    await expect.poll(heading).toBe('Sign in');
    await screenshot('hosted-sign-in');
    await createUser(moto.endpoint, pools, 'alice', TEMPORARY_PASSWORD);
    await submitForm({ username: 'alice', password: TEMPORARY_PASSWORD });
    await expect.poll(heading).toBe('Choose a new password');

    // Cognito's policy, not the page, judges the password; its words are shown.
    await submitForm({ password: 'short', repeat: 'short' });
    const alert = page.locator('.sign-in .form-error');
    await expect.poll(() => alert.getAttribute('data-code')).toBe('rejected-password');
    pageErrors = pageErrors.filter((message) => !message.includes('status of 400'));
    await submitForm({ password: NEW_PASSWORD, repeat: NEW_PASSWORD });

    await expect.poll(heading).toBe('Set up your authenticator app');
    const secret = ((await page.locator('[data-field="totp-secret"]').textContent()) ?? '').replace(
      /\s/g,
      '',
    );
    expect(secret).toMatch(/^[a-z2-7]+$/i);
    expect(await page.getByRole('link', { name: /authenticator app/ }).getAttribute('href')).toBe(
      `otpauth://totp/walwatch%3Aalice?secret=${secret}&issuer=walwatch`,
    );
    await screenshot('hosted-authenticator-setup');
    await submitForm({ code: await freshTotpCode(secret) });

    const rows = page.locator('tr[data-cluster]');
    await expect.poll(() => rows.count()).toBe(4);
    expect(await page.locator('[data-field="username"]').textContent()).toBe('alice');
    expect(cognito.calls).toEqual([
      'InitiateAuth',
      'RespondToAuthChallenge',
      'RespondToAuthChallenge',
      'AssociateSoftwareToken',
      'VerifySoftwareToken',
      'RespondToAuthChallenge',
      'GetId',
      'GetCredentialsForIdentity',
    ]);
    await screenshot('hosted-fleet');

    await page.getByRole('link', { name: FIXTURE_CLUSTERS.critical }).click();
    await page.locator('svg.chart').waitFor();
    await expect
      .poll(() => page.locator('[data-section="summary"] [data-field="latest"] code').count())
      .toBe(1);
    await page.getByRole('button', { name: 'Latest' }).click();
    await expect.poll(() => page.locator('.restore-result').getAttribute('data-state')).toBe('reachable');

    // A signed POST with a body: acknowledging a gap.
    const gap = page
      .locator('[data-section="gaps"] tr[data-gap]')
      .filter({ has: page.getByRole('textbox') })
      .first();
    const gapId = await gap.getAttribute('data-gap');
    await gap.getByRole('textbox').fill('lost in the 2026 bucket migration');
    await gap.getByRole('button', { name: 'Acknowledge' }).click();
    await expect
      .poll(() => page.locator(`tr[data-gap="${gapId}"]`).getAttribute('data-status'))
      .toBe('acknowledged');
    await screenshot('hosted-cluster');

    // Real CORS: the browser asked the API's origin first, and every request of the page was signed.
    const verdicts = api.seen.filter((request) => request.origin === site.url);
    expect(verdicts.some((r) => r.verdict === 'preflight-allowed' && r.method === 'OPTIONS')).toBe(true);
    const forwarded = verdicts.filter((r) => r.verdict === 'forwarded');
    expect(forwarded.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(
      expect.arrayContaining([
        'GET /clusters',
        `GET /clusters/${encodeURIComponent(FIXTURE_CLUSTERS.critical)}`,
        `GET /clusters/${encodeURIComponent(FIXTURE_CLUSTERS.critical)}/restore-plan`,
        `POST /clusters/${encodeURIComponent(FIXTURE_CLUSTERS.critical)}/gaps/${gapId}/ack`,
      ]),
    );
    expect(verdicts.filter((r) => !['forwarded', 'preflight-allowed'].includes(r.verdict))).toEqual([]);
  });

  it('asks for the authenticator code on later sign-ins, says when it is wrong, and signs out at Cognito', async () => {
    const secret = await firstSignIn('bob');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(heading).toBe('Sign in');
    expect(await page.locator('.sign-in [role="status"]').textContent()).toBe('Signed out.');
    expect(cognito.calls).toContain('GlobalSignOut');

    await page.goto(site.url);
    await expect.poll(heading).toBe('Sign in');
    await submitForm({ username: 'bob', password: NEW_PASSWORD });
    await expect.poll(heading).toBe('Enter your one-time code');
    const good = await freshTotpCode(secret);
    await submitForm({ code: good === '000000' ? '111111' : '000000' });
    const alert = page.locator('.sign-in .form-error');
    await expect.poll(() => alert.textContent()).toContain('That code is not right');
    pageErrors = pageErrors.filter((message) => !message.includes('status of 400'));
    await submitForm({ code: await freshTotpCode(secret) });
    await expect.poll(() => page.locator('tr[data-cluster]').count()).toBe(4);

    // A reload keeps the session (the refresh token in this tab's storage): no form, fresh credentials.
    cognito.calls.length = 0;
    await page.reload();
    await expect.poll(() => page.locator('tr[data-cluster]').count()).toBe(4);
    expect(cognito.calls).toEqual(['InitiateAuth', 'GetId', 'GetCredentialsForIdentity']);
  });

  it('shows a clear error for a wrong password and asks the identity pool for nothing', async () => {
    await createUser(moto.endpoint, pools, 'carol', TEMPORARY_PASSWORD);
    await page.goto(site.url);
    await expect.poll(heading).toBe('Sign in');
    await submitForm({ username: 'carol', password: 'Not-The-Passw0rd!' });
    const alert = page.locator('.sign-in .form-error');
    await expect.poll(() => alert.textContent()).toBe('Incorrect username or password.');
    expect(await alert.getAttribute('data-code')).toBe('wrong-credentials');
    expect(await heading()).toBe('Sign in');
    expect(cognito.calls).toEqual(['InitiateAuth']);
    expect(await page.locator('tr[data-cluster]').count()).toBe(0);
    await screenshot('hosted-wrong-password');
    pageErrors = pageErrors.filter((message) => !message.includes('status of 400'));
  });
});

describe.skipIf(!available)('hosted dashboard API access', () => {
  let credentials: IssuedCredentials;
  let daveSecret: string;

  async function signedRequest(
    path: string,
    options: {
      method?: string;
      body?: string;
      secret?: string;
      tamper?: (request: RequestParts) => void;
    } = {},
  ): Promise<Response> {
    const url = new URL(`${api.url}${path}`);
    const signer = new SignatureV4({
      service: 'execute-api',
      region: MOTO_REGION,
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: options.secret ?? credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
      },
      sha256: Sha256,
    });
    const signed = await signer.sign({
      method: options.method ?? 'GET',
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, 'content-type': 'application/json' },
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    const parts: RequestParts = {
      path: `${url.pathname}${url.search}`,
      body: options.body,
      headers: signed.headers,
    };
    options.tamper?.(parts);
    const { host: _host, ...headers } = parts.headers;
    return fetch(`${api.url}${parts.path}`, {
      method: options.method ?? 'GET',
      headers,
      ...(parts.body === undefined ? {} : { body: parts.body }),
    });
  }

  interface RequestParts {
    path: string;
    body: string | undefined;
    headers: Record<string, string>;
  }

  beforeAll(async () => {
    if (!browser) return;
    // Credentials as the identity pool issues them to a signed-in page.
    const setup = await openPage(browser);
    const previous = page;
    page = setup;
    daveSecret = await firstSignIn('dave');
    await setup.close();
    page = previous;
    const first = [...issued.values()][0];
    if (!first) throw new Error('the identity pool issued no credentials');
    credentials = first;
  });

  it('rejects an unsigned request, from Node and from the allowed page origin', async () => {
    const response = await fetch(`${api.url}/clusters`);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: 'Forbidden' });
    expect(api.seen.at(-1)?.verdict).toBe('unsigned');

    await page.goto(site.url);
    await expect.poll(heading).toBe('Sign in');
    const status = await page.evaluate(async (url) => (await fetch(`${url}/clusters`)).status, api.url);
    expect(status).toBe(403);
    expect(api.seen.at(-1)).toMatchObject({ verdict: 'unsigned', origin: site.url });
    pageErrors = pageErrors.filter((message) => !message.includes('status of 403'));
  });

  it('accepts a request signed with the issued credentials and rejects every altered one', async () => {
    const ok = await signedRequest('/clusters');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { clusters: unknown[] }).clusters).toHaveLength(4);
    expect(api.seen.at(-1)?.verdict).toBe('forwarded');

    const expectRejected = async (response: Response, verdict: string) => {
      expect(response.status).toBe(403);
      expect(api.seen.at(-1)?.verdict).toBe(verdict);
    };
    await expectRejected(await signedRequest('/clusters', { secret: 'not-the-secret' }), 'bad-signature');
    const id = encodeURIComponent(FIXTURE_CLUSTERS.ok);
    await expectRejected(
      await signedRequest(`/clusters/${id}`, {
        tamper: (request) => {
          request.path = `/clusters/${encodeURIComponent(FIXTURE_CLUSTERS.critical)}`;
        },
      }),
      'bad-signature',
    );
    await expectRejected(
      await signedRequest(`/clusters/${id}/restore-plan?target=latest`, {
        tamper: (request) => {
          request.path = `/clusters/${id}/restore-plan?target=0%2F1000000`;
        },
      }),
      'bad-signature',
    );
    await expectRejected(
      await signedRequest(`/clusters/${id}/gaps/000000010000000000000009-000000010000000000000009/ack`, {
        method: 'POST',
        body: JSON.stringify({ reason: 'signed reason' }),
        tamper: (request) => {
          request.body = JSON.stringify({ reason: 'another reason' });
        },
      }),
      'bad-signature',
    );
    await expectRejected(
      await signedRequest('/clusters', {
        tamper: (request) => {
          request.headers['x-amz-security-token'] = 'someone-elses-token';
        },
      }),
      'wrong-session-token',
    );
    await expectRejected(
      await signedRequest('/clusters', {
        tamper: (request) => {
          request.headers.authorization = (request.headers.authorization ?? '').replace(
            credentials.accessKeyId,
            'AKIANOTISSUED0000000',
          );
        },
      }),
      'unknown-credentials',
    );
  });

  it('is refused by CORS from any origin but the site', async () => {
    // Same files, same port, another origin: localhost is not 127.0.0.1 to a browser.
    const otherOrigin = `http://localhost:${site.port}`;
    await signIn('dave', daveSecret, otherOrigin);
    const connection = page.locator('.connection');
    await expect.poll(() => connection.getAttribute('data-state')).toBe('error');
    expect(await connection.textContent()).toContain('Cannot reach the API');
    expect(await connection.textContent()).toContain('check that your user may call this API');
    expect(await page.locator('tr[data-cluster]').count()).toBe(0);
    const fromOther = api.seen.filter((request) => request.origin === otherOrigin);
    expect(fromOther.length).toBeGreaterThan(0);
    expect(fromOther.every((request) => request.verdict === 'preflight-refused')).toBe(true);
    await screenshot('hosted-other-origin-refused');
    pageErrors = pageErrors.filter((message) => !/CORS|ERR_FAILED/.test(message));
  });
});
