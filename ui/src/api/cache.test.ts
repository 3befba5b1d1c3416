import { describe, expect, it } from 'vitest';
import {
  appendLogLines,
  applyRunsToFlows,
  applyRunsToPage,
  applyRunsToPages,
  applyStepsToPage,
  applyTasksToPages,
  applyToTaskDetail,
  runMatches,
  taskSortKey,
} from './cache';
import type { FlowSummary, LogPage, TaskDetail } from './models';
import { attempt, counts, pages, run, stepEvent, task } from './testData';

const ids = (data: { pages: { items: { run_id: string }[] }[] }) =>
  data.pages.map((p) => p.items.map((r) => r.run_id));

describe('runs list', () => {
  it('updates a run in its page and keeps the other pages as they were', () => {
    const data = pages([run('3'), run('2')], [run('1')]);
    const next = applyRunsToPages(data, {}, [run('1', { status: 'completed' })]);
    expect(next.pages[1]?.items[0]?.status).toBe('completed');
    expect(next.pages[0]).toBe(data.pages[0]);
  });

  it('returns the same object when nothing changes', () => {
    const data = pages([run('3')]);
    expect(applyRunsToPages(data, {}, [])).toBe(data);
    expect(applyRunsToPages(data, { flow_id: 'Other' }, [run('9', { flow_id: 'G' })])).toBe(data);
  });

  it('puts a new run at the top of a newest-first list', () => {
    const data = pages([run('3'), run('2')], [run('1')]);
    const next = applyRunsToPages(data, { order: '-started_at' }, [run('5'), run('4')]);
    expect(ids(next)).toEqual([['5', '4', '3', '2'], ['1']]);
  });

  it('leaves a new run that sorts after the loaded pages for the page that brings it', () => {
    const data = pages([run('3')], [run('2')]);
    data.pages[1] = { items: [run('2')], next_cursor: 'more' };
    const next = applyRunsToPages(data, { order: 'started_at' }, [run('9')]);
    expect(next).toBe(data);
    data.pages[1] = { items: [run('2')], next_cursor: null };
    expect(ids(applyRunsToPages(data, { order: 'started_at' }, [run('9')]))).toEqual([
      ['3'],
      ['2', '9'],
    ]);
  });

  it('keeps running runs (no finish time) last when sorted by finish time', () => {
    const done = (id: string, at: number) => run(id, { status: 'completed', finished_at: at });
    const data = pages([done('1', 50), done('2', 40), run('3')]);
    data.pages[0] = { items: data.pages[0]?.items ?? [], next_cursor: null };
    const next = applyRunsToPages(data, { order: '-finished_at' }, [done('4', 45), run('5')]);
    expect(ids(next)).toEqual([['1', '4', '2', '3', '5']]);
  });

  it('inserts only runs that pass the filters, and updates listed runs either way', () => {
    const data = pages([run('2', { status: 'running' })]);
    const params = { status: 'running' };
    const next = applyRunsToPages(data, params, [
      run('3', { status: 'failed' }),
      run('2', { status: 'completed' }),
    ]);
    expect(ids(next)).toEqual([['2']]);
    expect(next.pages[0]?.items[0]?.status).toBe('completed');
  });

  it('matches the API filters', () => {
    const r = run('12', { user: 'bo', tags: ['a'], system_tags: ['user:bo'], project: 'p' });
    expect(runMatches({}, r)).toBe(true);
    expect(runMatches({ user: 'bo', tag: ['a', 'user:bo'], project: 'p' }, r)).toBe(true);
    expect(runMatches({ tag: ['b'] }, r)).toBe(false);
    expect(runMatches({ q: 'f' }, r)).toBe(true); // flow "F", ignoring case
    expect(runMatches({ q: '2' }, r)).toBe(true);
    expect(runMatches({ q: 'x' }, r)).toBe(false);
    expect(runMatches({ started_after: 12_000 }, r)).toBe(true);
    expect(runMatches({ started_before: 12_000 }, r)).toBe(false);
  });

  it("keeps a flow's last runs at their limit", () => {
    const page = { items: [run('3'), run('2')], next_cursor: null };
    const next = applyRunsToPage(page, { order: '-started_at', limit: 2 }, [run('4')]);
    expect(next.items.map((r) => r.run_id)).toEqual(['4', '3']);
  });
});

describe('flows list', () => {
  const flow = (id: string, over: Partial<FlowSummary> = {}): FlowSummary => ({
    flow_id: id,
    run_count: 1,
    last_run: run('1', { flow_id: id }),
    recent: [
      { run_id: '1', status: 'running', status_reason: null, started_at: 1, duration_ms: 0 },
    ],
    users: ['ann'],
    ...over,
  });

  it('counts a new run once, even when its creation is replayed', () => {
    const flows = [flow('F')];
    const created = { run: run('2', { user: 'bo' }), created: true };
    const once = applyRunsToFlows(flows, [created]);
    const twice = applyRunsToFlows(once, [created]);
    for (const list of [once, twice]) {
      expect(list[0]?.run_count).toBe(2);
      expect(list[0]?.last_run?.run_id).toBe('2');
      expect(list[0]?.recent.map((r) => r.run_id)).toEqual(['2', '1']);
      expect(list[0]?.users).toEqual(['ann', 'bo']);
    }
  });

  it("adds a new flow, and updates a listed run's status", () => {
    const next = applyRunsToFlows(
      [flow('F')],
      [
        { run: run('1', { status: 'failed' }), created: false },
        { run: run('7', { flow_id: 'G' }), created: true },
      ],
    );
    expect(next.map((f) => f.flow_id)).toEqual(['F', 'G']);
    expect(next[0]?.last_run?.status).toBe('failed');
    expect(next[0]?.recent[0]?.status).toBe('failed');
  });

  it('returns the same list when the runs are none of its flows', () => {
    const flows = [flow('F')];
    expect(applyRunsToFlows(flows, [{ run: run('5', { flow_id: 'G' }), created: false }])).toBe(
      flows,
    );
    expect(applyRunsToFlows(flows, [{ run: run('5'), created: false }])).toBe(flows);
  });
});

describe('steps', () => {
  it('replaces a step by name and appends a new one', () => {
    const page = {
      items: [{ ...stepEvent('start'), flow_id: undefined, run_id: undefined }],
      next_cursor: null,
    };
    const next = applyStepsToPage(page, [
      stepEvent('start', { status: 'completed', task_counts: counts({ completed: 1 }) }),
      stepEvent('work', { task_counts: counts({ running: 4 }) }),
    ]);
    expect(next.items.map((s) => [s.step_name, s.status])).toEqual([
      ['start', 'completed'],
      ['work', 'running'],
    ]);
    expect(next.items[1]?.task_counts.running).toBe(4);
    expect(next.items[1]).not.toHaveProperty('flow_id');
  });
});

describe('task table', () => {
  it('sorts task ids as numbers', () => {
    expect(taskSortKey('10')).toBeGreaterThan(taskSortKey('9'));
    expect(taskSortKey('abc')).toBeGreaterThan(taskSortKey('99999'));
  });

  it('appends new tasks on the last page, in task-id order', () => {
    const data = pages([task('work', '2'), task('work', '3')]);
    const next = applyTasksToPages(data, { order: 'task_id' }, [
      task('work', '10'),
      task('work', '4'),
      task('work', '3', { status: 'completed' }),
    ]);
    expect(next.pages[0]?.items.map((t) => [t.task_id, t.status])).toEqual([
      ['2', 'running'],
      ['3', 'completed'],
      ['4', 'running'],
      ['10', 'running'],
    ]);
  });

  it('does not insert tasks of another step or status than the filters ask', () => {
    const data = pages([task('work', '2')]);
    const next = applyTasksToPages(data, { step_name: 'work', status: 'running' }, [
      task('end', '9'),
      task('work', '8', { status: 'completed' }),
    ]);
    expect(next).toBe(data);
  });
});

describe('task page', () => {
  const detail: TaskDetail = {
    ...task('work', '2'),
    attempts: [
      {
        attempt: 0,
        status: 'running',
        status_reason: null,
        started_at: 1,
        finished_at: null,
      },
    ],
    exception: null,
    decorators: [],
    exceptions: [],
    parallel: null,
    origin: null,
    compute: null,
    metadata: [],
  };

  it('updates the status and adds attempts in order', () => {
    const next = applyToTaskDetail(detail, [
      { kind: 'attempt', data: attempt('work', '2', 0, { status: 'failed', finished_at: 5 }) },
      { kind: 'attempt', data: attempt('work', '2', 1) },
      { kind: 'task', data: task('work', '2', { attempt: 1, foreach_label: 'items[0]=1' }) },
    ]);
    expect(next.attempts.map((a) => [a.attempt, a.status])).toEqual([
      [0, 'failed'],
      [1, 'running'],
    ]);
    expect(next.attempt).toBe(1);
    expect(next.foreach_label).toBe('items[0]=1');
    expect(next.attempts[1]).not.toHaveProperty('task_id');
  });
});

describe('log tail', () => {
  const line = (n: number) => ({ n, ts: n, text: `line ${n}` });
  const tail = (from: number, to: number): LogPage => {
    const items = [];
    for (let n = from; n <= to; n++) items.push(line(n));
    return {
      items,
      total: to,
      start: from - 1,
      next_cursor: from > 1 ? '0' : null,
      omitted_bytes: 0,
    };
  };

  it('appends new lines and ignores lines it has', () => {
    const next = appendLogLines(tail(1, 3), [line(2), line(3), line(4), line(5)], 1000);
    expect(next).not.toBe('gap');
    if (next === 'gap') return;
    expect(next.total).toBe(5);
    expect(next.items.map((l) => l.n)).toEqual([1, 2, 3, 4, 5]);
    expect(appendLogLines(next, [line(5)], 1000)).toBe(next);
  });

  it('keeps the last page of lines', () => {
    const next = appendLogLines(tail(1, 4), [line(5), line(6)], 4);
    if (next === 'gap') throw new Error('gap');
    expect(next.items.map((l) => l.n)).toEqual([3, 4, 5, 6]);
    expect(next.start).toBe(2);
    expect(next.next_cursor).toBe('0');
  });

  it('reports missing lines, so the tail is read again', () => {
    expect(appendLogLines(tail(1, 3), [line(5)], 1000)).toBe('gap');
  });
});
