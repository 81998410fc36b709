/// <reference lib="dom" />
/**
 * The API client of the dashboard: the routes the local monitor and API Gateway both serve. Cluster ids
 * contain slashes, so each is one `encodeURIComponent` path segment. Failures are values (`ApiResult`),
 * because the page shows them and keeps polling.
 */
import type { DrillRecord, DrillVerdict } from '../shared/core/drill.js';
import type { ClosedGapReport } from '../shared/core/gap-history.js';
import type {
  ClusterReport,
  EarliestRecoverable,
  GapReport,
  LatestRecoverable,
  Status,
} from '../shared/core/report.js';
import type { RestorePlan } from '../shared/core/restore-plan.js';
import type { StoredSegmentSummary } from '../shared/core/segment-summary.js';

/** One row of `GET /clusters`. */
export interface ClusterSummary {
  readonly id: string;
  readonly scope: string | null;
  readonly uid: string | null;
  readonly pgMajor: string | null;
  readonly status: Status;
  readonly latestRecoverable: LatestRecoverable | null;
  readonly earliestRecoverable: EarliestRecoverable | null;
  readonly archiveAgeSeconds: number | null;
  readonly backupAgeSeconds: number | null;
  readonly recoveryPointLagSeconds: number | null;
  /** Count of problems above `info`. */
  readonly problems: number;
  /** Count of lost gaps. */
  readonly gaps: number;
  /** The newest restore drill's verdict and when a drill last verified the cluster; absent from older servers. */
  readonly lastDrill?: {
    readonly finishedAt: string;
    readonly verdict: DrillVerdict;
    readonly lastVerifiedAt: string | null;
  } | null;
}

/** `GET /clusters/{id}/drills`. */
export interface DrillsResponse {
  readonly generatedAt: string;
  readonly drills: DrillRecord[];
}

/** `GET /clusters/{id}/gaps`: the open gaps and the closed ones, newest first. */
export interface GapsResponse {
  readonly generatedAt: string;
  readonly gaps: GapReport[];
  readonly history: ClosedGapReport[];
}

/** `GET /clusters`: one page. */
export interface FleetResponse {
  readonly generatedAt: string;
  readonly clusters: ClusterSummary[];
  /** Where the next page starts; `null` on the last. */
  readonly cursor?: string | null;
  /** Clusters per status over the whole fleet, as of the last sweep. */
  readonly counts?: { critical: number; warning: number; ok: number; total: number } | null;
}

/** A fleet page, or that the page asked about with its tag has not changed (304). */
export type FleetAnswer =
  | { readonly changed: true; readonly page: FleetResponse; readonly etag: string | null }
  | { readonly changed: false };

/** `GET /clusters/{id}`. */
export interface ClusterResponse {
  readonly generatedAt: string;
  readonly cluster: ClusterReport;
}

/** `GET /clusters/{id}/segments/{name}`: times as ISO text. */
export type SegmentResponse = Omit<
  StoredSegmentSummary,
  'clusterId' | 'timeline' | 'segno' | 'readAt' | 'objectAt'
> & {
  readonly segment: string;
  readonly readAt: string;
  readonly objectAt: string;
};

/** `GET /clusters/{id}/restore-plan`: the fields the page shows (the server may send more). */
export type RestorePlanResponse = Pick<
  RestorePlan,
  'reachable' | 'reason' | 'backup' | 'timeline' | 'spiloEnv' | 'walgSteps' | 'notes'
> &
  Partial<Pick<RestorePlan, 'target' | 'certainty' | 'spiloBackup'>>;

/**
 * A response, or why there is none: an API error (`code` from the body) or a network failure. Fleet
 * pages carry a weak ETag over what the rows store (times, not ages): the page sends it back and mostly
 * hears 304.
 */
export type ApiResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** Where the API lives: `?api=` wins, then `<meta name="walwatch-api">`, then the page's own origin. */
export function resolveApiBase(location: Location, document: Document): string {
  const fromQuery = new URLSearchParams(location.search).get('api');
  const fromMeta = document.querySelector<HTMLMetaElement>('meta[name="walwatch-api"]')?.content;
  const base = (fromQuery ?? fromMeta ?? '').trim();
  return base.replace(/\/+$/, '');
}

/**
 * Sends one request: the browser's `fetch`, or one that signs it first (the hosted page's SigV4 signer).
 * It may throw for a network failure, as `fetch` does.
 */
export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/** A client bound to one API base URL. */
export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly send: Fetcher = (url, init) => fetch(url, init),
  ) {}

  /** Every cluster, with the fleet columns (the first page). */
  fleet(): Promise<ApiResult<FleetResponse>> {
    return this.request('/clusters', {});
  }

  /** One fleet page; with the tag of the page shown, `changed: false` when the API answers 304. */
  async fleetPage(
    query: { q?: string; status?: string; cursor?: string; limit?: number },
    etag: string | null,
  ): Promise<ApiResult<FleetAnswer>> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query))
      if (value !== undefined && value !== '') params.set(name, String(value));
    const path = `/clusters${params.size > 0 ? `?${params}` : ''}`;
    let etagSeen: string | null = null;
    const result = await this.request<FleetResponse>(path, {
      ...(etag ? { headers: { 'if-none-match': etag } } : {}),
      onResponse: (response) => {
        etagSeen = response.headers.get('etag');
      },
    });
    if (!result.ok) {
      if (result.status === 304) return { ok: true, value: { changed: false } };
      return result;
    }
    return { ok: true, value: { changed: true, page: result.value, etag: etagSeen } };
  }

  /** One cluster's full report. */
  cluster(id: string): Promise<ApiResult<ClusterResponse>> {
    return this.request(`/clusters/${encodeURIComponent(id)}`, {});
  }

  /** The plan for a target: `latest`, an ISO time with a zone, or an LSN. */
  restorePlan(id: string, target: string): Promise<ApiResult<RestorePlanResponse>> {
    const query = new URLSearchParams({ target });
    return this.request(`/clusters/${encodeURIComponent(id)}/restore-plan?${query}`, {});
  }

  /** The cluster's restore drills, newest first. */
  drills(id: string): Promise<ApiResult<DrillsResponse>> {
    return this.request(`/clusters/${encodeURIComponent(id)}/drills`, {});
  }

  /** The cluster's gaps and the history of closed ones. */
  gaps(id: string): Promise<ApiResult<GapsResponse>> {
    return this.request(`/clusters/${encodeURIComponent(id)}/gaps`, {});
  }

  /** What the content scan stored for one segment (`WALWATCH_READ_CONTENT=all`). */
  segment(id: string, name: string): Promise<ApiResult<SegmentResponse>> {
    return this.request(`/clusters/${encodeURIComponent(id)}/segments/${encodeURIComponent(name)}`, {});
  }

  /** Acknowledges a gap, with the operator's reason. */
  acknowledgeGap(id: string, gapId: string, reason: string): Promise<ApiResult<{ ok: true }>> {
    return this.request(`/clusters/${encodeURIComponent(id)}/gaps/${encodeURIComponent(gapId)}/ack`, {
      method: 'POST',
      body: JSON.stringify({ reason }),
    });
  }

  private async request<T>(
    path: string,
    options: {
      method?: string;
      body?: string;
      headers?: Record<string, string>;
      onResponse?: (response: Response) => void;
    },
  ): Promise<ApiResult<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.send(`${this.base}${path}`, {
        method: options.method ?? 'GET',
        headers,
        cache: 'no-store',
        ...(options.body !== undefined ? { body: options.body } : {}),
      });
    } catch (error) {
      return { ok: false, status: 0, code: 'network', message: `cannot reach the API: ${String(error)}` };
    }
    options.onResponse?.(response);
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      return {
        ok: false,
        status: response.status,
        code: typeof error?.code === 'string' ? error.code : `http-${response.status}`,
        message: typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`,
      };
    }
    if (body === undefined)
      return { ok: false, status: response.status, code: 'bad-response', message: 'the API sent no JSON' };
    return { ok: true, value: body as T };
  }
}
