/**
 * Interactive API reference at `/docs` on the local monitor: Swagger UI, served from the `swagger-ui-dist`
 * package on this machine (no CDN: the page works offline), reading the router's own `/openapi.json`.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Hono } from 'hono';

/** The files of `swagger-ui-dist` the page loads; nothing else of the package is served. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>walwatch API reference</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// A separate script rather than an inline one, so the page works under a script-src 'self' policy. With
// --api-token the reference takes the token as the dashboard does: from a `#token=` link once, then from
// the tab's sessionStorage, and sends it to this origin only.
const INIT = `(function () {
  var key = 'walwatch-api-token';
  var match = /^#token=([^&]*)$/.exec(location.hash);
  if (match) {
    try { sessionStorage.setItem(key, decodeURIComponent(match[1])); } catch (e) {}
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  var token = sessionStorage.getItem(key);
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger',
    deepLinking: true,
    tryItOutEnabled: true,
    requestInterceptor: function (request) {
      if (token && new URL(request.url, location.href).origin === location.origin)
        request.headers.Authorization = 'Bearer ' + token;
      return request;
    },
  });
})();
`;

/** Adds `/docs` and its assets to the monitor's app. */
export function mountApiDocs(app: Hono): void {
  const folder = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Promise<Buffer>>();
  app.get('/docs', (c) => c.html(PAGE));
  app.get('/docs/init.js', (c) => c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/docs/:file', async (c) => {
    const file = c.req.param('file');
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) return c.json({ error: { code: 'not-found', message: `no file ${file}` } }, 404);
    let body = cache.get(file);
    if (!body) {
      body = readFile(join(folder, file));
      cache.set(file, body);
    }
    return c.body(new Uint8Array(await body), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=86400',
    });
  });
}
