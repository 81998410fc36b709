/// <reference lib="dom" />
/**
 * The local monitor's API token in the page. With `--api-token`, `walwatch serve` prints the dashboard link
 * as `http://127.0.0.1:7070/#token=<token>`. The page takes the token from the fragment once (a fragment is
 * never sent to a server, so the token stays out of access logs and `Referer`), keeps it in the tab's
 * `sessionStorage` (a reload keeps it, closing the tab forgets it), removes it from the address bar and the
 * history, and sends it as `Authorization: Bearer` — only to the page's own origin.
 */
import type { Fetcher } from './api.js';

const STORAGE_KEY = 'walwatch-api-token';

/**
 * Moves a `#token=…` fragment into `storage` and replaces it with the fleet route; returns the token the tab
 * holds, if any.
 */
export function takeApiToken(location: Location, history: History, storage: Storage): string | undefined {
  const match = /^#token=([^&]*)$/.exec(location.hash);
  if (match) {
    let token = '';
    try {
      token = decodeURIComponent(match[1] ?? '');
    } catch {
      // A mangled link holds no usable token; the API's 401 then says what to do.
    }
    if (token !== '') storage.setItem(STORAGE_KEY, token);
    history.replaceState(history.state, '', `${location.pathname}${location.search}#/`);
  }
  return storage.getItem(STORAGE_KEY) ?? undefined;
}

/**
 * A fetcher that adds the token to requests for `apiBase` when that is the page's own origin (or empty, the
 * page's origin itself), and the plain `fetch` otherwise: a `?api=` elsewhere never receives it.
 */
export function bearerFetcher(token: string | undefined, apiBase: string, location: Location): Fetcher {
  const own = apiBase === '' || new URL(apiBase, location.href).origin === location.origin;
  if (token === undefined || !own) return (url, init) => fetch(url, init);
  return (url, init) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(url, { ...init, headers });
  };
}
