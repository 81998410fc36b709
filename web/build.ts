/**
 * Builds the dashboard with esbuild: one minified ESM script, one stylesheet and the page that loads them by
 * relative URL, so the same files work behind the local monitor (`/`, `/dashboard.js`, `/dashboard.css`)
 * and on any static host. A page with sign-in (the hosted dashboard next to the deployed API, see
 * `site-config.ts`) also loads `sign-in.js`: the Cognito sign-in and the SigV4 signer, built only for it.
 *
 * As a command, writes a static site:
 *
 *     npx tsx web/build.ts --out DIR [--api https://abc123.execute-api.eu-central-1.amazonaws.com]
 *     npx tsx web/build.ts --out DIR --config-json      # signs in; reads DIR/config.json at view time
 *     npx tsx web/build.ts --out DIR --api URL --region R --user-pool-id ID --user-pool-client-id ID --identity-pool-id ID
 *
 * `--api` alone bakes the API base URL into the page (`<meta name="walwatch-api">`), which calls it without
 * signing; a `?api=` query parameter overrides it at view time. Without either, the page calls its own origin.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, buildSync } from 'esbuild';
import type { AwsSiteConfig } from './site-config.js';

/** The files of a static site, by role. */
export const DASHBOARD_FILES = {
  page: 'index.html',
  script: 'dashboard.js',
  style: 'dashboard.css',
  signIn: 'sign-in.js',
  config: 'config.json',
} as const;

/** The built dashboard. */
export interface BuiltDashboard {
  readonly html: string;
  readonly js: string;
  readonly css: string;
  /** `sign-in.js`, for a page with sign-in only. */
  readonly signInJs?: string;
}

/**
 * Where a page with sign-in finds its settings: a JSON file next to it (`{ configFile: 'config.json' }`,
 * holding an {@link AwsSiteConfig}), or the values themselves, written as meta tags.
 */
export type SignInSource = { readonly configFile: string } | { readonly config: AwsSiteConfig };

/** What the page says about its API. */
export interface DashboardPageOptions {
  /** API base URL called without signing. @default the page's own origin */
  readonly apiBase?: string;
  /** Sign in and sign every request. @default - no sign-in: a plain page */
  readonly signIn?: SignInSource;
  /**
   * The page's CSP `connect-src` sources.
   *
   * @default - with `signIn.config`: the page itself, the API and the region's Cognito endpoints; otherwise `*`
   */
  readonly connectSrc?: readonly string[];
}

/** Build settings. */
export type DashboardBuildOptions = DashboardPageOptions;

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const COMMON: BuildOptions = {
  bundle: true,
  minify: true,
  write: false,
  logLevel: 'silent',
  legalComments: 'none',
};

/** The three bundles: the page's script (which imports `./sign-in.js` at run time only), sign-in, style. */
function bundleOptions(): { script: BuildOptions; signIn: BuildOptions; style: BuildOptions } {
  const script: BuildOptions = { ...COMMON, format: 'esm', platform: 'browser', target: ['es2022'] };
  return {
    // `sign-in.js` stays a separate file, loaded by a page with sign-in only.
    script: { ...script, entryPoints: [here('./main.ts')], external: [`./${DASHBOARD_FILES.signIn}`] },
    signIn: { ...script, entryPoints: [here('./sign-in.ts')] },
    style: { ...COMMON, entryPoints: [here('./dashboard.css')], loader: { '.css': 'css' } },
  };
}

function textOf(result: { outputFiles?: { text: string }[] }): string {
  const text = result.outputFiles?.[0]?.text;
  if (text === undefined) throw new Error('esbuild produced no dashboard output');
  return text;
}

/**
 * The region's Cognito endpoints the signed-in page calls: the user pool's (sign-in) and the identity
 * pool's (credentials).
 */
export function cognitoEndpoints(region: string, urlSuffix = 'amazonaws.com'): readonly string[] {
  return [`https://cognito-idp.${region}.${urlSuffix}`, `https://cognito-identity.${region}.${urlSuffix}`];
}

/**
 * Builds the page, its script and its stylesheet, in memory.
 *
 * @example
 * const { html, js, css } = await buildDashboard();
 * app.get('/dashboard.js', (c) => c.body(js, 200, { 'content-type': 'text/javascript' }));
 */
export async function buildDashboard(options: DashboardBuildOptions = {}): Promise<BuiltDashboard> {
  const bundles = bundleOptions();
  const [script, style, signIn] = await Promise.all([
    build(bundles.script),
    build(bundles.style),
    options.signIn ? build(bundles.signIn) : undefined,
  ]);
  return {
    html: renderDashboardPage(options),
    js: textOf(script),
    css: textOf(style),
    ...(signIn ? { signInJs: textOf(signIn) } : {}),
  };
}

/**
 * The page of the hosted dashboard, as the CDK deploys it: it signs in with the settings of `config.json`
 * next to it, and its CSP lets it connect only to its own origin (for `config.json`), the API and the
 * region's Cognito endpoints. `apiOrigin` and `region` may be CDK tokens.
 */
export function renderHostedDashboardPage(
  apiOrigin: string,
  region: string,
  urlSuffix = 'amazonaws.com',
): string {
  return renderDashboardPage({
    signIn: { configFile: DASHBOARD_FILES.config },
    connectSrc: ["'self'", apiOrigin, ...cognitoEndpoints(region, urlSuffix)],
  });
}

/**
 * Writes the page's scripts and stylesheet (`dashboard.js`, `sign-in.js`, `dashboard.css`, not the page)
 * into `dir`, synchronously: for CDK's local bundling, which cannot wait for a promise.
 */
export function writeDashboardAssetsSync(dir: string): void {
  const bundles = bundleOptions();
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, DASHBOARD_FILES.script), textOf(buildSync(bundles.script)));
  writeFileSync(resolve(dir, DASHBOARD_FILES.signIn), textOf(buildSync(bundles.signIn)));
  writeFileSync(resolve(dir, DASHBOARD_FILES.style), textOf(buildSync(bundles.style)));
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

const META_OF_CONFIG: Record<keyof AwsSiteConfig, string> = {
  apiUrl: 'walwatch-api',
  region: 'walwatch-region',
  userPoolId: 'walwatch-user-pool-id',
  userPoolClientId: 'walwatch-user-pool-client-id',
  identityPoolId: 'walwatch-identity-pool-id',
};

function connectSources(options: DashboardPageOptions): readonly string[] {
  if (options.connectSrc) return options.connectSrc;
  const config = options.signIn && 'config' in options.signIn ? options.signIn.config : undefined;
  if (!config) return ['*'];
  return ["'self'", new URL(config.apiUrl).origin, ...cognitoEndpoints(config.region)];
}

/**
 * The page: it loads `dashboard.css` and `dashboard.js` by relative URL and says, in meta tags, where its
 * API is and how to sign in. Values may be CDK tokens (the deployment resolves them).
 */
export function renderDashboardPage(options: DashboardPageOptions = {}): string {
  const metas: [string, string][] = [];
  const signIn = options.signIn;
  if (signIn && 'configFile' in signIn) metas.push(['walwatch-config', signIn.configFile]);
  else if (signIn) {
    for (const [field, name] of Object.entries(META_OF_CONFIG)) {
      metas.push([name, signIn.config[field as keyof AwsSiteConfig]]);
    }
  } else if (options.apiBase) metas.push(['walwatch-api', options.apiBase]);
  const api = metas
    .map(([name, content]) => `\n<meta name="${name}" content="${escapeAttribute(content)}">`)
    .join('');
  const connect = connectSources(options).map(escapeAttribute).join(' ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; base-uri 'none'; form-action 'none'">${api}
<title>walwatch</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard.css">
<script type="module" src="dashboard.js"></script>
</head>
<body>
<div id="app"><p>Loading walwatch…</p></div>
<noscript><p>The walwatch dashboard needs JavaScript. The same data is at <a href="clusters">clusters</a> (JSON).</p></noscript>
</body>
</html>
`;
}

/**
 * Writes `index.html`, `dashboard.js` and `dashboard.css` into `dir`, and `sign-in.js` for a page with
 * sign-in (whose `config.json`, if it reads one, is the host's to write).
 */
export async function writeStaticDashboard(dir: string, options: DashboardBuildOptions = {}): Promise<void> {
  const built = await buildDashboard(options);
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(resolve(dir, DASHBOARD_FILES.page), built.html),
    writeFile(resolve(dir, DASHBOARD_FILES.script), built.js),
    writeFile(resolve(dir, DASHBOARD_FILES.style), built.css),
    built.signInJs === undefined
      ? undefined
      : writeFile(resolve(dir, DASHBOARD_FILES.signIn), built.signInJs),
  ]);
}

function readFlag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
}

function optionsFromArgs(args: readonly string[]): DashboardBuildOptions | string {
  const apiBase = readFlag(args, '--api');
  if (args.includes('--config-json')) return { signIn: { configFile: DASHBOARD_FILES.config } };
  const userPoolId = readFlag(args, '--user-pool-id');
  if (userPoolId === undefined) return apiBase ? { apiBase } : {};
  const config = {
    apiUrl: apiBase,
    region: readFlag(args, '--region'),
    userPoolId,
    userPoolClientId: readFlag(args, '--user-pool-client-id'),
    identityPoolId: readFlag(args, '--identity-pool-id'),
  };
  const missing = Object.entries(config).find(([, value]) => !value);
  if (missing)
    return `--user-pool-id needs --api, --region, --user-pool-client-id and --identity-pool-id too`;
  return { signIn: { config: config as AwsSiteConfig } };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const out = readFlag(args, '--out');
  const options = optionsFromArgs(args);
  if (!out || typeof options === 'string') {
    if (typeof options === 'string') console.error(options);
    console.error(
      'usage: npx tsx web/build.ts --out DIR [--api BASE_URL] [--config-json | --region R --user-pool-id ID --user-pool-client-id ID --identity-pool-id ID]',
    );
    process.exit(2);
  }
  await writeStaticDashboard(resolve(out), options);
  const files: string[] = [DASHBOARD_FILES.page, DASHBOARD_FILES.script, DASHBOARD_FILES.style];
  if (options.signIn) files.push(DASHBOARD_FILES.signIn);
  console.log(`walwatch dashboard written to ${resolve(out)} (${files.join(', ')})`);
}
