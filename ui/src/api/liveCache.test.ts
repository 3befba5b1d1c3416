import { type InfiniteData, QueryClient, QueryObserver } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { timelineFixture } from '../timeline/fixtures';
import { type TimelineData, taskIdOf } from '../timeline/overview';
import { Batcher } from './batcher';
import type { LiveEvent } from './events';
import { FakeClock } from './fakes';
import { keys } from './keys';
import { LiveCache } from './liveCache';
import type { LogPage, Page, Run, RunDetail, StepSummary, Task, TaskDetail } from './models';
import {
  attempt,
  counts,
  type DistributiveOmit,
  ev,
  pages,
  run,
  runDetail,
  stepEvent,
  task,
} from './testData';

const T = { flow: 'F', run: '1', step: 'work', task: '2' };
const tick = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const cache = new LiveCache(qc);
  return { qc, cache };
}

const runIds = (qc: QueryClient, params = {}) =>
  qc
    .getQueryData<InfiniteData<Page<Run>>>(keys.runs(params))
    ?.pages.flatMap((p) => p.items.map((r) => r.run_id));

describe('LiveCache: runs', () => {
  it('puts a new run at the top of the runs list', () => {
    const { qc, cache } = setup();
    qc.setQueryData(keys.runs({}), pages([run('2'), run('1')]));
    cache.apply([ev({ kind: 'run_created', data: run('3') })]);
    expect(runIds(qc)).toEqual(['3', '2', '1']);
  });

  it("changes a run's status, duration and tags in every list and its header", () => {
    const { qc, cache } = setup();
    qc.setQueryData(keys.runs({}), pages([run('2'), run('1')]));
    qc.setQueryData(keys.runs({ user: 'ann' }), pages([run('1')]));
    qc.setQueryData(keys.runDetail('F', '1'), runDetail('1', { task_count: 7 }));
    const done = run('1', {
      status: 'failed',
      finished_at: 5000,
      duration_ms: 4000,
      tags: ['t'],
      first_failure: { step_name: 'work', task_id: '2' },
    });
    cache.apply([ev({ kind: 'run_status', data: done })]);
    for (const params of [{}, { user: 'ann' }]) {
      const r = qc
        .getQueryData<InfiniteData<Page<Run>>>(keys.runs(params))
        ?.pages[0]?.items.find((x) => x.run_id === '1');
      expect(r?.status).toBe('failed');
      expect(r?.duration_ms).toBe(4000);
      expect(r?.tags).toEqual(['t']);
    }
    const detail = qc.getQueryData<RunDetail>(keys.runDetail('F', '1'));
    expect(detail?.first_failure).toEqual({ step_name: 'work', task_id: '2' });
    expect(detail?.task_count).toBe(7); // the detail's own fields stay
  });
});

describe('LiveCache: a run page', () => {
  it("updates the DAG's step counts and the run's task count", () => {
    const { qc, cache } = setup();
    qc.setQueryData<Page<StepSummary>>(keys.steps('F', '1'), {
      items: [{ ...stepEvent('start', { task_counts: counts({ completed: 1 }) }) }],
      next_cursor: null,
    });
    qc.setQueryData(keys.runDetail('F', '1'), runDetail('1', { task_count: 1 }));
    cache.apply([
      ev({ kind: 'step_status', data: stepEvent('work', { task_counts: counts({ running: 4 }) }) }),
      ev({
        kind: 'step_status',
        data: stepEvent('work', { task_counts: counts({ running: 1, completed: 3 }) }),
      }),
    ]);
    const steps = qc.getQueryData<Page<StepSummary>>(keys.steps('F', '1'));
    expect(steps?.items.map((s) => s.step_name)).toEqual(['start', 'work']);
    expect(steps?.items[1]?.task_counts).toEqual(counts({ running: 1, completed: 3 }));
    expect(qc.getQueryData<RunDetail>(keys.runDetail('F', '1'))?.task_count).toBe(5);
  });

  it('grows the timeline and the task table', () => {
    const { qc, cache } = setup();
    qc.setQueryData(
      keys.timeline('F', '1'),
      timelineFixture(
        ['start', 'work'],
        [{ step: 'start', id: '1', attempts: [[0, 1, 'completed']] }],
      ),
    );
    const tableKey = keys.tasks('F', '1', { order: 'task_id' });
    qc.setQueryData(tableKey, pages([task('start', '1', { status: 'completed' })]));
    cache.apply([
      ev({ kind: 'task_created', data: task('work', '2') }),
      ev({ kind: 'attempt_status', data: attempt('work', '2', 0) }),
      ev({ kind: 'task_created', data: task('work', '3') }),
    ]);
    const timeline = qc.getQueryData<TimelineData>(keys.timeline('F', '1'));
    const o = timeline?.overview;
    expect(o ? Array.from({ length: o.n }, (_, i) => taskIdOf(o, i)) : []).toEqual(['1', '2', '3']);
    expect(o?.attempts[1]).toBe(1);
    const table = qc.getQueryData<InfiniteData<Page<Task>>>(tableKey);
    expect(table?.pages[0]?.items.map((t) => t.task_id)).toEqual(['1', '2', '3']);
  });
});

describe('LiveCache: a task page', () => {
  it('updates status and attempts, and follows the log', () => {
    const { qc, cache } = setup();
    const detail: TaskDetail = {
      ...task('work', '2'),
      attempts: [],
      exception: null,
      decorators: [],
      exceptions: [],
      parallel: null,
      origin: null,
      compute: null,
      metadata: [],
    };
    qc.setQueryData(keys.taskDetail(T), detail);
    const tailKey = keys.logPage(T, 'stdout', 0, 'tail');
    qc.setQueryData<LogPage>(tailKey, {
      items: [],
      total: 0,
      start: 0,
      next_cursor: null,
      omitted_bytes: 0,
    });
    const lines = [0, 1, 2, 3, 4].map((i) => ({ n: i + 1, ts: i, text: `item 0 tick ${i}` }));
    cache.apply([
      ev({ kind: 'attempt_status', data: attempt('work', '2', 0) }),
      ev({
        kind: 'log',
        data: {
          flow_id: 'F',
          run_id: '1',
          step_name: 'work',
          task_id: '2',
          attempt: 0,
          stream: 'stdout',
          lines,
        },
      }),
    ]);
    expect(qc.getQueryData<TaskDetail>(keys.taskDetail(T))?.attempts).toHaveLength(1);
    const tail = qc.getQueryData<LogPage>(tailKey);
    expect(tail?.total).toBe(5);
    expect(tail?.items.at(-1)?.text).toBe('item 0 tick 4');
  });

  it('refetches a task that finished (for its exception, metadata and artifacts)', () => {
    const { qc, cache } = setup();
    const detail: TaskDetail = {
      ...task('work', '2'),
      attempts: [],
      exception: null,
      decorators: [],
      exceptions: [],
      parallel: null,
      origin: null,
      compute: null,
      metadata: [],
    };
    qc.setQueryData(keys.taskDetail(T), detail);
    qc.setQueryData(keys.artifacts(T, 0, false), { items: [], next_cursor: null });
    cache.apply([ev({ kind: 'task_status', data: task('work', '2', { status: 'failed' }) })]);
    expect(qc.getQueryState(keys.taskDetail(T))?.isInvalidated).toBe(true);
    expect(qc.getQueryState(keys.artifacts(T, 0, false))?.isInvalidated).toBe(true);
    expect(qc.getQueryData<TaskDetail>(keys.taskDetail(T))?.status).toBe('failed');
  });
});

describe('LiveCache: the stream itself', () => {
  it('refetches what a stream keeps current when it says resync', () => {
    const { qc, cache } = setup();
    qc.setQueryData(keys.runs({}), pages([run('1')]));
    qc.setQueryData(keys.steps('F', '1'), { items: [], next_cursor: null });
    qc.setQueryData(keys.steps('F', '2'), { items: [], next_cursor: null });
    cache.apply([ev({ kind: 'resync', stream: { kind: 'run', flow: 'F', run: '1' } })]);
    expect(qc.getQueryState(keys.runs({}))?.isInvalidated).toBe(true);
    expect(qc.getQueryState(keys.steps('F', '1'))?.isInvalidated).toBe(true);
    expect(qc.getQueryState(keys.steps('F', '2'))?.isInvalidated).toBe(false);
  });

  it('on first connecting, refetches only data cached before the stream opened', () => {
    const { qc, cache } = setup();
    qc.setQueryData(keys.runs({}), pages([run('1')]), { updatedAt: 100 });
    qc.setQueryData(keys.runs({ user: 'x' }), pages([run('1')]), { updatedAt: 300 });
    qc.setQueryData(keys.runDetail('F', '1'), runDetail('1'), { updatedAt: 100 });
    cache.apply([ev({ kind: 'hello', stream: { kind: 'all' }, openedAt: 200 })]);
    expect(qc.getQueryState(keys.runs({}))?.isInvalidated).toBe(true);
    expect(qc.getQueryState(keys.runs({ user: 'x' }))?.isInvalidated).toBe(false);
    expect(qc.getQueryState(keys.runDetail('F', '1'))?.isInvalidated).toBe(false);
    cache.apply([
      ev({ kind: 'hello', stream: { kind: 'run', flow: 'F', run: '1' }, openedAt: 200 }),
    ]);
    expect(qc.getQueryState(keys.runDetail('F', '1'))?.isInvalidated).toBe(true);
  });

  it('replays events over a response that was in flight when they came', async () => {
    const { qc, cache } = setup();
    const detach = cache.attach();
    let answer: (t: TimelineData) => void = () => {};
    const stale = timelineFixture(['work'], []);
    const fetching = qc.fetchQuery({
      queryKey: keys.timeline('F', '1'),
      queryFn: () => new Promise<TimelineData>((r) => (answer = r)),
    });
    await tick();
    cache.apply([ev({ kind: 'task_created', data: task('work', '2') }, Date.now() + 1)]);
    answer(stale); // read before the task existed
    await fetching;
    await tick();
    const o = qc.getQueryData<TimelineData>(keys.timeline('F', '1'))?.overview;
    expect(o ? Array.from({ length: o.n }, (_, i) => taskIdOf(o, i)) : []).toEqual(['2']);
    detach();
  });
});

describe('LiveCache: a burst of 10,000 task events', () => {
  /** A run with a foreach of `width` tasks starting: task, attempt and step events. */
  function burst(width: number): DistributiveOmit<LiveEvent, 'at'>[] {
    const out: DistributiveOmit<LiveEvent, 'at'>[] = [];
    for (let i = 0; i < width; i++) {
      const id = String(i + 2);
      out.push({ kind: 'task_created', data: task('work', id) });
      out.push({ kind: 'attempt_status', data: attempt('work', id, 0) });
      out.push({
        kind: 'step_status',
        data: stepEvent('work', { task_counts: counts({ running: i + 1 }) }),
      });
    }
    return out.slice(0, 10_000);
  }

  function page(qc: QueryClient) {
    qc.setQueryData(keys.runs({}), pages([run('1')]));
    qc.setQueryData(keys.runDetail('F', '1'), runDetail('1'));
    qc.setQueryData(keys.steps('F', '1'), { items: [], next_cursor: null });
    qc.setQueryData(keys.timeline('F', '1'), timelineFixture(['start', 'work'], []));
    qc.setQueryData(keys.tasks('F', '1', { order: 'task_id' }), pages<Task>([]));
    // One observer per query on screen: each notification is one render of that view.
    const renders = new Map<string, number>();
    const views = [
      keys.steps('F', '1'),
      keys.timeline('F', '1'),
      keys.tasks('F', '1', { order: 'task_id' }),
    ];
    const unsubscribe = views.map((queryKey) => {
      const name = String(queryKey[3]);
      renders.set(name, 0);
      return new QueryObserver(qc, { queryKey, enabled: false }).subscribe(() =>
        renders.set(name, (renders.get(name) ?? 0) + 1),
      );
    });
    return {
      renders,
      done: () => {
        for (const u of unsubscribe) u();
      },
    };
  }

  it('spread over 2 seconds: applied at most 4 times a second, each view rendered as often', async () => {
    const { qc, cache } = setup();
    const { renders, done } = page(qc);
    const clock = new FakeClock();
    const times: number[] = [];
    const batcher = new Batcher<LiveEvent>(
      (events) => {
        const t0 = performance.now();
        cache.apply(events);
        times.push(performance.now() - t0);
      },
      250,
      clock,
    );
    const events = burst(10_000);
    for (const e of events) {
      batcher.push({ ...e, at: clock.now() } as LiveEvent);
      clock.advance(2000 / events.length);
    }
    clock.advance(250);
    await tick();
    const applies = cache.applies;
    expect(applies).toBeLessThanOrEqual(2000 / 250 + 2);
    for (const [, n] of renders) expect(n).toBeLessThanOrEqual(applies);
    const timeline = qc.getQueryData<TimelineData>(keys.timeline('F', '1'));
    expect(timeline?.overview.n).toBe(3334);
    let attempts = 0;
    for (let i = 0; i < (timeline?.overview.n ?? 0); i++)
      attempts += timeline?.overview.attempts[i] ?? 0;
    expect(attempts).toBe(3333 + 1); // and the start task's
    const table = qc.getQueryData<InfiniteData<Page<Task>>>(
      keys.tasks('F', '1', { order: 'task_id' }),
    );
    expect(table?.pages[0]?.items).toHaveLength(3334);
    expect(qc.getQueryData<RunDetail>(keys.runDetail('F', '1'))?.task_count).toBe(3333);
    const total = times.reduce((a, b) => a + b, 0);
    console.info(
      `10,000 events over 2 s: ${applies} applies, renders per view ${JSON.stringify(Object.fromEntries(renders))}, ` +
        `apply time total ${total.toFixed(1)} ms, longest ${Math.max(...times).toFixed(1)} ms`,
    );
    expect(total).toBeLessThan(2000); // far less in practice; see the figure printed above
    done();
  });

  it('all at once: one apply, one render per view', async () => {
    const { qc, cache } = setup();
    const { renders, done } = page(qc);
    const clock = new FakeClock();
    const batcher = new Batcher<LiveEvent>((events) => cache.apply(events), 250, clock);
    const t0 = performance.now();
    for (const e of burst(10_000)) batcher.push({ ...e, at: 0 } as LiveEvent);
    clock.advance(0);
    const ms = performance.now() - t0;
    await tick();
    expect(cache.applies).toBe(1);
    for (const [, n] of renders) expect(n).toBe(1);
    console.info(`10,000 events at once: 1 apply in ${ms.toFixed(1)} ms`);
    done();
  });
});
