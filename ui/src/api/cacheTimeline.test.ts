import { describe, expect, it } from 'vitest';
import { timelineFixture } from '../timeline/fixtures';
import { buildModel, COMPLETED, RUNNING, taskIdAt } from '../timeline/model';
import { taskKey } from '../timeline/overview';
import { applyToTimeline, keepDetail, mergeDetail, type TimelineChange } from './cacheTimeline';
import { attempt, stepEvent, task } from './testData';

const base = () =>
  timelineFixture(
    ['start', 'work'],
    [
      { step: 'start', id: '1', attempts: [[0, 2, 'completed']] },
      { step: 'work', id: '2', attempts: [[3, null, 'running']] },
    ],
  );

describe('applyToTimeline', () => {
  it('appends new tasks: their bars appear and grow', () => {
    const t = base();
    const next = applyToTimeline(t, [
      { kind: 'task', data: task('work', '3', { started_at: 4000 }) },
      { kind: 'attempt', data: attempt('work', '3', 0, { started_at: 4000 }) },
    ]);
    expect(next).not.toBe(t);
    expect(t.overview.n).toBe(2); // the cached response is left alone
    const m = buildModel(next);
    expect(m.nTasks).toBe(3);
    expect(taskIdAt(m, 2)).toBe('3');
    expect(m.taskStart[2]).toBe(4000);
    expect(m.taskStatus[2]).toBe(RUNNING);
    expect(m.taskAttemptCount[2]).toBe(1);
  });

  it('updates a known task, and the attempts of a task whose detail is loaded', () => {
    const next = applyToTimeline(base(), [
      {
        kind: 'task',
        data: task('work', '2', {
          status: 'completed',
          foreach_label: 'x[0]=1',
          started_at: 3000,
          finished_at: 9000,
        }),
      },
      {
        kind: 'attempt',
        data: attempt('work', '2', 0, { status: 'completed', started_at: 3000, finished_at: 9000 }),
      },
    ]);
    const m = buildModel(next);
    expect(m.nTasks).toBe(2);
    expect(m.taskStatus[1]).toBe(COMPLETED);
    expect(m.taskEnd[1]).toBe(9000);
    expect(next.detail.get(taskKey('work', '2'))?.label).toBe('x[0]=1');
    expect(m.attemptEnd[m.taskAttempts[m.taskAttemptOffset[1] ?? 0] ?? 0]).toBe(9000);
  });

  it('adds a retry as a second attempt of the same task', () => {
    const next = applyToTimeline(base(), [
      { kind: 'attempt', data: attempt('work', '2', 0, { status: 'failed', finished_at: 5000 }) },
      { kind: 'attempt', data: attempt('work', '2', 1, { started_at: 6000 }) },
    ]);
    const m = buildModel(next);
    const from = m.taskAttemptOffset[1] ?? 0;
    expect((m.taskAttemptOffset[2] ?? 0) - from).toBe(2);
    expect(m.taskAttemptCount[1]).toBe(2);
  });

  it('counts the attempts of a task whose detail is not loaded', () => {
    const t = base();
    const bare = { overview: t.overview, detail: new Map() };
    const next = applyToTimeline(bare, [
      { kind: 'attempt', data: attempt('work', '2', 1, { started_at: 6000 }) },
    ]);
    expect(next.overview.attempts[1]).toBe(2);
    expect(next.detail.size).toBe(0);
  });

  it('adds a step the run reached after the timeline was read', () => {
    const next = applyToTimeline(base(), [
      { kind: 'step', data: stepEvent('join') },
      { kind: 'task', data: task('end', '9') },
    ]);
    expect(next.overview.steps).toEqual(['start', 'work', 'join', 'end']);
    expect(next.overview.step[next.overview.n - 1]).toBe(3);
  });

  it('gives the same answer when a batch is applied twice (replay)', () => {
    const changes: TimelineChange[] = [
      { kind: 'task', data: task('work', '3') },
      { kind: 'attempt', data: attempt('work', '3', 0) },
      { kind: 'task', data: task('work', '3', { status: 'completed', finished_at: 7000 }) },
    ];
    const once = applyToTimeline(base(), changes);
    const twice = applyToTimeline(once, changes);
    const columns = (t: typeof once) => {
      const o = t.overview;
      return [
        o.n,
        ...[o.step, o.status, o.attempts, o.start, o.end].map((c) =>
          Array.from(c.subarray(0, o.n)),
        ),
      ];
    };
    expect(columns(twice)).toEqual(columns(once));
    expect(twice.overview.n).toBe(3);
  });

  it('returns the same object when nothing changes', () => {
    const t = base();
    expect(
      applyToTimeline(t, [{ kind: 'task', data: task('work', '2', { started_at: 3000 }) }]),
    ).toBe(t);
    expect(applyToTimeline(t, [{ kind: 'attempt', data: attempt('nope', '7', 0) }])).toBe(t);
  });
});

describe('detail', () => {
  it('merges fetched detail without touching the overview', () => {
    const t = base();
    const next = mergeDetail(t, [
      { key: taskKey('work', '2'), detail: { label: 'x', attempts: [] } },
    ]);
    expect(next.overview).toBe(t.overview);
    expect(next.detail.get(taskKey('work', '2'))?.label).toBe('x');
    expect(t.detail.get(taskKey('work', '2'))?.label).toBeNull();
  });

  it('keeps, after a refetch, only the detail that still agrees with the overview', () => {
    const t = base();
    const ended = applyToTimeline({ overview: t.overview, detail: new Map() }, [
      {
        kind: 'task',
        data: task('work', '2', { status: 'completed', started_at: 3000, finished_at: 8000 }),
      },
    ]);
    const kept = keepDetail(ended.overview, t.detail);
    expect(kept.has(taskKey('start', '1'))).toBe(true);
    // Its detail still shows the attempt running: fetched again.
    expect(kept.has(taskKey('work', '2'))).toBe(false);
  });
});
