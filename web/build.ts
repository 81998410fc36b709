/**
 * Builds the dashboard in memory with esbuild: one minified ESM script, one stylesheet and the page that
 * loads them by relative URL, so the same three files work behind the local monitor (`/`,
 * `/dashboard.js`, `/dashboard.css`) and on any static host next to the API.
 *
 * As a command, writes a static site:
 *
 *     npx tsx web/build.ts --out DIR [--api https://abc123.execute-api.eu-central-1.amazonaws.com]
 *
 * `--api` bakes the API base URL into the page (`<meta name="walwatch-api">`); a `?api=` query parameter
 * overrides it at view time. Without either, the page calls its own origin.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The built dashboard. */
export interface BuiltDashboard {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

/** Build settings. */
export interface DashboardBuildOptions {
  /** API base URL written into the page. @default the page's own origin */
  readonly apiBase?: string;
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/**
 * Builds the page, its script and its stylesheet, in memory.
 *
 * @example
 * const { html, js, css } = await buildDashboard();
 * app.get('/dashboard.js', (c) => c.body(js, 200, { 'content-type': 'text/javascript' }));
 */
export async function buildDashboard(options: DashboardBuildOptions = {}): Promise<BuiltDashboard> {
  const common = {
    bundle: true,
    minify: true,
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  } as const;
  const [script, style] = await Promise.all([
    build({
      ...common,
      entryPoints: [here('./main.ts')],
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
    }),
    build({ ...common, entryPoints: [here('./dashboard.css')], loader: { '.css': 'css' } }),
  ]);
  const js = script.outputFiles[0]?.text;
  const css = style.outputFiles[0]?.text;
  if (js === undefined || css === undefined) throw new Error('esbuild produced no dashboard output');
  return { html: renderPage(options.apiBase), js, css };
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function renderPage(apiBase: string | undefined): string {
  const api = apiBase ? `\n<meta name="walwatch-api" content="${escapeAttribute(apiBase)}">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'">${api}
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

/** Writes `index.html`, `dashboard.js` and `dashboard.css` into `dir`. */
export async function writeStaticDashboard(dir: string, options: DashboardBuildOptions = {}): Promise<void> {
  const built = await buildDashboard(options);
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(resolve(dir, 'index.html'), built.html),
    writeFile(resolve(dir, 'dashboard.js'), built.js),
    writeFile(resolve(dir, 'dashboard.css'), built.css),
  ]);
}

function readFlag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index === -1 ? undefined : args[index + 1];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const out = readFlag(args, '--out');
  if (!out) {
    console.error('usage: npx tsx web/build.ts --out DIR [--api BASE_URL]');
    process.exit(2);
  }
  const apiBase = readFlag(args, '--api');
  await writeStaticDashboard(resolve(out), apiBase ? { apiBase } : {});
  console.log(`walwatch dashboard written to ${resolve(out)} (index.html, dashboard.js, dashboard.css)`);
}
