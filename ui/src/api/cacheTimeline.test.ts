import { describe, expect, it } from 'vitest';
import { timelineFixture } from '../timeline/fixtures';
import { buildModel, COMPLETED, RUNNING } from '../timeline/model';
import { applyToTimeline, type TimelineChange } from './cacheTimeline';
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
  it('appends new tasks and attempts: bars appear and grow', () => {
    const t = base();
    const next = applyToTimeline(t, [
      { kind: 'task', data: task('work', '3') },
      { kind: 'attempt', data: attempt('work', '3', 0, { started_at: 4000 }) },
    ]);
    expect(next).not.toBe(t);
    expect(t.tasks.task_id).toEqual(['1', '2']); // the cached response is left alone
    const m = buildModel(next);
    expect(m.nTasks).toBe(3);
    expect(m.nAttempts).toBe(3);
    expect(m.taskStart[2]).toBe(4000);
    expect(m.taskStatus[2]).toBe(RUNNING);
  });

  it('updates a known task and attempt in place', () => {
    const next = applyToTimeline(base(), [
      { kind: 'task', data: task('work', '2', { status: 'completed', foreach_label: 'x[0]=1' }) },
      {
        kind: 'attempt',
        data: attempt('work', '2', 0, { status: 'completed', started_at: 3000, finished_at: 9000 }),
      },
    ]);
    const m = buildModel(next);
    expect(m.nTasks).toBe(2);
    expect(m.taskStatus[1]).toBe(COMPLETED);
    expect(m.taskEnd[1]).toBe(9000);
    expect(next.tasks.foreach_label[1]).toBe('x[0]=1');
  });

  it('adds a retry as a second attempt of the same task', () => {
    const next = applyToTimeline(base(), [
      { kind: 'attempt', data: attempt('work', '2', 0, { status: 'failed', finished_at: 5000 }) },
      { kind: 'attempt', data: attempt('work', '2', 1, { started_at: 6000 }) },
    ]);
    const m = buildModel(next);
    const from = m.taskAttemptOffset[1] ?? 0;
    expect((m.taskAttemptOffset[2] ?? 0) - from).toBe(2);
  });

  it('adds a step the run reached after the timeline was read', () => {
    const next = applyToTimeline(base(), [
      { kind: 'step', data: stepEvent('join') },
      { kind: 'task', data: task('end', '9') },
    ]);
    expect(next.steps).toEqual(['start', 'work', 'join', 'end']);
    expect(next.tasks.step.at(-1)).toBe(3);
  });

  it('gives the same answer when a batch is applied twice (replay)', () => {
    const changes: TimelineChange[] = [
      { kind: 'task', data: task('work', '3') },
      { kind: 'attempt', data: attempt('work', '3', 0) },
      { kind: 'task', data: task('work', '3', { status: 'completed' }) },
    ];
    const once = applyToTimeline(base(), changes);
    const twice = applyToTimeline(once, changes);
    expect(twice.tasks).toEqual(once.tasks);
    expect(twice.attempts).toEqual(once.attempts);
  });

  it('returns the same object when nothing changes', () => {
    const t = base();
    expect(applyToTimeline(t, [{ kind: 'task', data: task('work', '2') }])).toBe(t);
    expect(applyToTimeline(t, [{ kind: 'attempt', data: attempt('nope', '7', 0) }])).toBe(t);
  });
});
