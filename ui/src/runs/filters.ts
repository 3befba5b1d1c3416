// The runs list's filters live in the URL query string; these convert both ways and
// into API parameters.
import type { RunOrder, RunsQuery } from '../api/models';

export type { RunOrder };
export const RUN_ORDERS: readonly RunOrder[] = [
  '-started_at',
  'started_at',
  '-finished_at',
  'finished_at',
  '-duration_ms',
  'duration_ms',
];
export const RUN_STATUSES = ['running', 'completed', 'failed'] as const;
type RunStatusFilter = (typeof RUN_STATUSES)[number];
export const RANGES = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
};
export type RangePreset = keyof typeof RANGES;
export type Grouping = '' | 'flow' | 'user';

export interface RunFilters {
  flow_id: string;
  user: string;
  tag: string[];
  status: RunStatusFilter | '';
  range: RangePreset | '';
  /** Custom start bounds as YYYY-MM-DD (local dates), used when no preset is chosen. */
  from: string;
  to: string;
  project: string;
  branch: string;
  q: string;
  order: RunOrder;
  group: Grouping;
}

export const EMPTY_FILTERS: RunFilters = {
  flow_id: '',
  user: '',
  tag: [],
  status: '',
  range: '',
  from: '',
  to: '',
  project: '',
  branch: '',
  q: '',
  order: '-started_at',
  group: '',
};

const isOrder = (v: string | null): v is RunOrder => RUN_ORDERS.some((o) => o === v);
const isRange = (v: string | null): v is RangePreset => v !== null && v in RANGES;

export function parseFilters(qs: URLSearchParams): RunFilters {
  const order = qs.get('order');
  const range = qs.get('range');
  const group = qs.get('group');
  const status = qs.get('status') ?? '';
  return {
    flow_id: qs.get('flow_id') ?? '',
    user: qs.get('user') ?? '',
    tag: qs.getAll('tag').filter((t) => t.length > 0),
    status: RUN_STATUSES.find((s) => s === status) ?? '',
    range: isRange(range) ? range : '',
    from: qs.get('from') ?? '',
    to: qs.get('to') ?? '',
    project: qs.get('project') ?? '',
    branch: qs.get('branch') ?? '',
    q: qs.get('q') ?? '',
    order: isOrder(order) ? order : '-started_at',
    group: group === 'flow' || group === 'user' ? group : '',
  };
}

/** Only what differs from the defaults goes into the URL. */
export function serializeFilters(f: RunFilters): URLSearchParams {
  const qs = new URLSearchParams();
  const put = (k: string, v: string) => {
    if (v) qs.set(k, v);
  };
  put('flow_id', f.flow_id);
  put('user', f.user);
  for (const t of f.tag) qs.append('tag', t);
  put('status', f.status);
  put('range', f.range);
  if (!f.range) {
    put('from', f.from);
    put('to', f.to);
  }
  put('project', f.project);
  put('branch', f.branch);
  put('q', f.q);
  if (f.order !== '-started_at') qs.set('order', f.order);
  put('group', f.group);
  return qs;
}

function localDayStart(day: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
}

/**
 * API parameters. `now` is rounded down to the minute so that a relative range gives a
 * stable query key (and cache entry) for a minute at a time.
 */
export function filtersToParams(f: RunFilters, now: number): RunsQuery {
  let startedAfter: number | undefined;
  let startedBefore: number | undefined;
  if (f.range) {
    startedAfter = Math.floor(now / 60_000) * 60_000 - RANGES[f.range];
  } else {
    startedAfter = localDayStart(f.from);
    const to = localDayStart(f.to);
    startedBefore = to === undefined ? undefined : to + 86_400_000;
  }
  return {
    flow_id: f.flow_id || undefined,
    user: f.user || undefined,
    tag: f.tag.length ? f.tag : undefined,
    status: f.status || undefined,
    started_after: startedAfter,
    started_before: startedBefore,
    project: f.project || undefined,
    branch: f.branch || undefined,
    q: f.q || undefined,
    order: f.order,
  };
}

export function activeFilterCount(f: RunFilters): number {
  return (
    (f.flow_id ? 1 : 0) +
    (f.user ? 1 : 0) +
    f.tag.length +
    (f.status ? 1 : 0) +
    (f.range || f.from || f.to ? 1 : 0) +
    (f.project ? 1 : 0) +
    (f.branch ? 1 : 0) +
    (f.q ? 1 : 0)
  );
}
