import { describe, expect, it } from 'vitest';
import type { Run } from '../api/models';
import {
  activeFilterCount,
  EMPTY_FILTERS,
  filtersToParams,
  parseFilters,
  serializeFilters,
} from './filters';
import { flowStats, median } from './flowStats';
import { groupRuns } from './grouping';
import { heldNewRuns } from './newRuns';

const run = (over: Partial<Run>): Run => ({
  flow_id: 'F',
  run_id: '1',
  user: 'ann',
  status: 'completed',
  status_reason: null,
  started_at: 0,
  finished_at: 10,
  duration_ms: 10,
  tags: [],
  system_tags: [],
  project: null,
  branch: null,
  first_failure: null,
  caught_count: 0,
  current_steps: [],
  ...over,
});

describe('filters', () => {
  it('round-trips through the query string, keeping defaults out', () => {
    const f = {
      ...EMPTY_FILTERS,
      flow_id: 'F',
      tag: ['a', 'b'],
      status: 'failed' as const,
      group: 'user' as const,
    };
    const qs = serializeFilters(f);
    expect(qs.toString()).toBe('flow_id=F&tag=a&tag=b&status=failed&group=user');
    expect(parseFilters(qs)).toEqual(f);
    expect(serializeFilters(EMPTY_FILTERS).toString()).toBe('');
  });
  it('ignores unknown values', () => {
    const f = parseFilters(new URLSearchParams('status=weird&order=nope&range=2y&group=x'));
    expect(f).toEqual(EMPTY_FILTERS);
  });
  it('turns a preset range into a start bound rounded to the minute', () => {
    const now = 1_000_000_030_000;
    const p = filtersToParams({ ...EMPTY_FILTERS, range: '1h' }, now);
    expect(p.started_after).toBe(1_000_000_020_000 - 3_600_000);
    expect(p.started_before).toBeUndefined();
    expect(p.order).toBe('-started_at');
  });
  it('turns custom days into a start window that includes the last day', () => {
    const p = filtersToParams({ ...EMPTY_FILTERS, from: '2026-11-01', to: '2026-11-02' }, 0);
    expect(p.started_after).toBe(new Date(2026, 10, 1).getTime());
    expect(p.started_before).toBe(new Date(2026, 10, 3).getTime());
  });
  it('counts active filters', () => {
    expect(activeFilterCount({ ...EMPTY_FILTERS, tag: ['a', 'b'], q: 'x' })).toBe(3);
  });
});

describe('groupRuns', () => {
  const runs = [
    run({ run_id: '3', flow_id: 'B', status: 'failed' }),
    run({ run_id: '2', flow_id: 'A' }),
    run({ run_id: '1', flow_id: 'B', status: 'running' }),
  ];
  it('keeps the server order without grouping', () => {
    expect(
      groupRuns(runs, '', new Set()).map((r) => (r.kind === 'run' ? r.run.run_id : r.key)),
    ).toEqual(['3', '2', '1']);
  });
  it('groups by flow in order of first appearance, with counts', () => {
    const rows = groupRuns(runs, 'flow', new Set());
    expect(rows.map((r) => (r.kind === 'run' ? r.run.run_id : `#${r.key}`))).toEqual([
      '#B',
      '3',
      '1',
      '#A',
      '2',
    ]);
    expect(rows[0]).toMatchObject({ count: 2, failed: 1, running: 1, collapsed: false });
  });
  it('hides the runs of a collapsed group', () => {
    const rows = groupRuns(runs, 'flow', new Set(['B']));
    expect(rows.map((r) => (r.kind === 'run' ? r.run.run_id : `#${r.key}`))).toEqual([
      '#B',
      '#A',
      '2',
    ]);
  });
});

describe('flowStats', () => {
  it('computes success rate over finished runs, median of completed, owners, strip', () => {
    const s = flowStats([
      run({ run_id: '4', status: 'running', duration_ms: null, user: 'bob' }),
      run({ run_id: '3', status: 'failed', duration_ms: 5 }),
      run({ run_id: '2', duration_ms: 30, user: 'bob' }),
      run({ run_id: '1', duration_ms: 10, user: 'bob' }),
    ]);
    expect(s.successRate).toBeCloseTo(2 / 3);
    expect(s.medianDurationMs).toBe(20);
    expect(s.owners).toEqual(['bob', 'ann']);
    expect(s.strip.map((r) => r.run_id)).toEqual(['1', '2', '3', '4']);
  });
  it('has no rates without finished runs', () => {
    expect(flowStats([]).successRate).toBeNull();
    expect(median([])).toBeNull();
    expect(median([3, 1, 2])).toBe(2);
  });
});

describe('heldNewRuns', () => {
  const list = (...ids: string[]) => ids.map((run_id) => run({ run_id }));
  const shown = new Set(['F/2', 'F/1']);
  it('holds back the new runs at the top while the list is scrolled', () => {
    expect(heldNewRuns(list('4', '3', '2', '1'), shown, true)).toBe(2);
  });
  it('shows them when the list is at the top', () => {
    expect(heldNewRuns(list('4', '3', '2', '1'), shown, false)).toBe(0);
  });
  it('holds nothing for a list never shown, or one with none of the shown runs', () => {
    expect(heldNewRuns(list('2', '1'), new Set(), true)).toBe(0);
    expect(heldNewRuns(list('9', '8'), shown, true)).toBe(0);
  });
  it('does not hold runs that arrived further down (a next page)', () => {
    expect(heldNewRuns(list('2', '1', '0'), shown, true)).toBe(0);
  });
});
