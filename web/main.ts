/// <reference lib="dom" />
/**
 * The dashboard's entry point: hash routes (`#/` for the fleet, `#/clusters/<encoded id>` for one cluster,
 * so a static host needs no rewrites), and polling every few seconds for live updates without a reload.
 * The hosted page (`site-config.ts`) first loads `sign-in.js`, signs the person in and signs every request.
 */
import { ApiClient, type ClusterResponse, type FleetResponse } from './api.js';
import { bearerFetcher, takeApiToken } from './api-token.js';
import { ClusterView } from './cluster-view.js';
import { h, replaceChildren } from './dom.js';
import { FleetView } from './fleet-view.js';
import { STATUS_LABEL, STATUS_RANK } from './format.js';
import { type AwsSiteConfig, loadSiteConfig } from './site-config.js';

/** How often the page asks for fresh data; new objects show within this plus the request time. */
const POLL_INTERVAL_MS = 2_000;

type Route = { readonly view: 'fleet' } | { readonly view: 'cluster'; readonly id: string };

/** Who is signed in on the hosted page, and how to sign out. */
interface Account {
  readonly username: string;
  readonly signOut: () => void;
}

/** Set before a reload that follows a sign-out or an ended session, for the sign-in form to say why. */
const NOTICE_KEY = 'walwatch-sign-in-notice';

function readRoute(hash: string): Route {
  const match = /^#\/clusters\/([^/]+)$/.exec(hash);
  if (!match?.[1]) return { view: 'fleet' };
  try {
    return { view: 'cluster', id: decodeURIComponent(match[1]) };
  } catch {
    return { view: 'fleet' };
  }
}

class Dashboard {
  private readonly main: HTMLElement;
  private readonly connection: HTMLElement;
  /** When the shown data was computed; outside the live region. */
  private readonly updated: HTMLElement;
  private route: Route = readRoute(location.hash);
  private clusterView: ClusterView | null = null;
  private fleetView: FleetView | null = null;
  /** The fleet page shown: its ETag, and when (local clock) its answer arrived. */
  private fleetTag: { etag: string | null; key: string; receivedAt: number; generatedAt: string } | null =
    null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private generation = 0;

  /** Signed requests to API Gateway: a refused one comes back without CORS headers, like a network failure. */
  private readonly signed: boolean;

  constructor(
    root: HTMLElement,
    private readonly api: ApiClient,
    account?: Account,
  ) {
    this.signed = account !== undefined;
    this.connection = h(
      'p',
      { class: 'connection', role: 'status', 'data-state': 'connecting' },
      'Connecting…',
    );
    this.updated = h('span', { class: 'updated' });
    this.main = h('main', { id: 'content', tabindex: '-1' });
    replaceChildren(
      root,
      h(
        'header',
        { class: 'top' },
        h('h1', {}, h('a', { href: '#/' }, 'walwatch')),
        h('span', { class: 'tagline' }, 'the latest point you can actually restore to'),
        h('div', { class: 'freshness' }, this.connection, this.updated),
        account ? accountControls(account) : null,
      ),
      this.main,
    );
    window.addEventListener('hashchange', () => {
      this.route = readRoute(location.hash);
      this.clusterView = null;
      this.fleetView = null;
      this.fleetTag = null;
      replaceChildren(this.main, h('p', { class: 'muted' }, 'Loading…'));
      this.main.focus();
      this.refreshNow();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.refreshNow();
    });
  }

  /** Fetches now and restarts the polling clock. */
  refreshNow(): void {
    clearTimeout(this.timer);
    void this.poll();
  }

  private async poll(): Promise<void> {
    const generation = ++this.generation;
    const route = this.route;
    try {
      if (route.view === 'fleet') await this.loadFleet();
      else await this.loadCluster(route.id);
    } finally {
      // A newer poll (after navigation) owns the timer.
      if (generation === this.generation) {
        this.timer = setTimeout(() => {
          if (!document.hidden) void this.poll();
          else this.timer = undefined;
        }, POLL_INTERVAL_MS);
      }
    }
  }

  private async loadFleet(): Promise<void> {
    if (!this.fleetView) {
      this.fleetView = new FleetView(() => this.refreshNow());
      this.fleetTag = null;
    }
    const view = this.fleetView;
    const query = view.query();
    const key = JSON.stringify(query);
    const known = this.fleetTag?.key === key ? this.fleetTag : null;
    const answer = await this.api.fleetPage(query, known?.etag ?? null);
    if (this.route.view !== 'fleet' || this.fleetView !== view) return;
    if (!answer.ok) return this.showError(answer.message, answer.status);
    if (!answer.value.changed) {
      if (!known) return;
      // Nothing changed: only the ages move on, by this page's clock.
      const elapsed = (Date.now() - known.receivedAt) / 1000;
      view.age(elapsed);
      this.markLive(new Date(Date.parse(known.generatedAt) + elapsed * 1000).toISOString());
      return;
    }
    this.fleetTag = {
      etag: answer.value.etag,
      key,
      receivedAt: Date.now(),
      generatedAt: answer.value.page.generatedAt,
    };
    this.showFleet(answer.value.page);
  }

  private async loadCluster(id: string): Promise<void> {
    const answer = await this.api.cluster(id);
    if (this.route.view !== 'cluster' || this.route.id !== id) return;
    if (!answer.ok) {
      if (answer.status === 404) {
        this.markLive();
        replaceChildren(
          this.main,
          h('nav', { class: 'crumbs' }, h('a', { href: '#/' }, '← All clusters')),
          h('p', { class: 'form-error', role: 'alert' }, answer.message),
        );
        return;
      }
      return this.showError(answer.message, answer.status);
    }
    this.showCluster(id, answer.value);
  }

  private showFleet(fleet: FleetResponse): void {
    this.markLive(fleet.generatedAt);
    const counts = fleet.counts;
    const worst =
      counts && counts.critical > 0
        ? 'critical'
        : counts && counts.warning > 0
          ? 'warning'
          : [...fleet.clusters].sort((a, b) => STATUS_RANK[a.status] - STATUS_RANK[b.status])[0]?.status;
    document.title = worst ? `walwatch · ${STATUS_LABEL[worst]}` : 'walwatch';
    const view = this.fleetView as FleetView;
    if (view.element.parentElement !== this.main) replaceChildren(this.main, view.element);
    // Rows whose text is unchanged keep their elements, so focus and selection stay where they are.
    view.update(fleet);
  }

  private showCluster(id: string, response: ClusterResponse): void {
    this.markLive(response.generatedAt);
    if (!this.clusterView || this.clusterView.clusterId !== id) {
      this.clusterView = new ClusterView(id, this.api, () => this.refreshNow());
      replaceChildren(this.main, this.clusterView.element);
    }
    document.title = `walwatch · ${STATUS_LABEL[response.cluster.status]} · ${id}`;
    this.clusterView.update(response);
  }

  private markLive(generatedAt?: string): void {
    if (generatedAt) this.updated.textContent = `data of ${generatedAt.slice(11, 19)} UTC`;
    this.setConnection('live', `Live, refreshed every ${POLL_INTERVAL_MS / 1000} s`);
  }

  private showError(message: string, status: number): void {
    this.setConnection(
      'error',
      status === 0
        ? `Cannot reach the API, retrying: ${message}` +
            (this.signed
              ? ' (API Gateway answers a refused request without CORS headers, so it looks the same: check that your user may call this API)'
              : '')
        : `API error ${status}, retrying: ${message}`,
    );
  }

  /** Changes the live region only when the state changes, so screen readers are not told every 2 s. */
  private setConnection(state: 'live' | 'error', text: string): void {
    if (this.connection.dataset.state === state && this.connection.textContent === text) return;
    this.connection.dataset.state = state;
    this.connection.textContent = text;
  }
}

function accountControls(account: Account): HTMLElement {
  const button = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  button.addEventListener('click', account.signOut);
  return h('div', { class: 'account' }, h('span', { 'data-field': 'username' }, account.username), button);
}

async function startSignedIn(root: HTMLElement, config: AwsSiteConfig): Promise<void> {
  replaceChildren(root, h('p', {}, 'Loading sign-in…'));
  const reloadWith = (notice: string) => {
    sessionStorage.setItem(NOTICE_KEY, notice);
    location.reload();
  };
  const notice = sessionStorage.getItem(NOTICE_KEY) ?? undefined;
  sessionStorage.removeItem(NOTICE_KEY);
  // Its own bundle: the AWS SDK loads only on this page.
  const { signIn } = await import('./sign-in.js');
  const session = await signIn(root, config, {
    ...(notice ? { notice } : {}),
    onSessionEnded: (error) => reloadWith(error.message),
  });
  const account: Account = {
    username: session.username ?? '',
    signOut: () => {
      void session.signOut().then((warning) => reloadWith(warning ?? 'Signed out.'));
    },
  };
  new Dashboard(root, new ApiClient(config.apiUrl, session.fetch), account).refreshNow();
}

async function start(root: HTMLElement): Promise<void> {
  const config = await loadSiteConfig(location, document);
  switch (config.kind) {
    case 'plain': {
      const token = takeApiToken(location, history, sessionStorage);
      new Dashboard(
        root,
        new ApiClient(config.apiBase, bearerFetcher(token, config.apiBase, location)),
      ).refreshNow();
      return;
    }
    case 'aws':
      return startSignedIn(root, config.aws);
    case 'invalid':
      replaceChildren(
        root,
        h('p', { class: 'form-error', role: 'alert' }, `walwatch cannot start: ${config.message}`),
      );
      return;
  }
}

const root = document.getElementById('app');
if (root) {
  start(root).catch((error: unknown) => {
    replaceChildren(
      root,
      h('p', { class: 'form-error', role: 'alert' }, `walwatch cannot start: ${(error as Error).message}`),
    );
  });
}
