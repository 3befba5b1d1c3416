import { describe, expect, it } from 'vitest';
import { criticalPath, parentSteps } from './criticalPath';
import { timelineFixture } from './fixtures';
import { hitTest } from './hitTest';
import { layoutRows, ROW_STEP, ROW_TASK, rowOfTask } from './layout';
import {
  attemptBarEnd,
  buildModel,
  COMPLETED,
  FAILED,
  modelBounds,
  RUNNING,
  taskIdAt,
} from './model';
import { clampView, fitView, niceTicks, panView, timeToX, xToTime, zoomView } from './viewport';

// start -> work (foreach of 3, one retried) -> join -> end
const steps = ['start', 'work', 'join', 'end'];
const fixture = timelineFixture(steps, [
  { step: 'start', id: '1', attempts: [[0, 2, 'completed']] },
  { step: 'work', id: '2', label: 'x[0]=a', attempts: [[3, 10, 'completed']] },
  {
    step: 'work',
    id: '3',
    label: 'x[1]=b',
    attempts: [
      [3, 5, 'failed'],
      [6, 20, 'completed'],
    ],
  },
  { step: 'work', id: '4', label: 'x[2]=c', attempts: [[4, 8, 'completed']] },
  { step: 'join', id: '5', attempts: [[21, 22, 'completed']] },
  { step: 'end', id: '6', attempts: [[23, null, 'running']] },
]);
const all = { order: 'start' as const, statuses: null, steps: null, collapsed: new Set<number>() };

describe('buildModel', () => {
  const m = buildModel(fixture);
  it('indexes attempts per task in attempt order', () => {
    expect(m.nTasks).toBe(6);
    expect(m.nAttempts).toBe(7);
    const from = m.taskAttemptOffset[2] ?? 0;
    const to = m.taskAttemptOffset[3] ?? 0;
    const attempts = Array.from(m.taskAttempts.slice(from, to));
    expect(attempts.map((a) => m.attemptNumber[a])).toEqual([0, 1]);
    expect(attempts.map((a) => m.attemptStatus[a])).toEqual([FAILED, COMPLETED]);
  });
  it('spans a task from its first start to its last end', () => {
    expect(m.taskStart[2]).toBe(3000);
    expect(m.taskEnd[2]).toBe(20000);
    expect(Number.isNaN(m.taskEnd[5] ?? 0)).toBe(true);
    expect(m.taskStatus[5]).toBe(RUNNING);
  });
  it('runs an open running attempt to now and bounds the run with it', () => {
    const a = m.taskAttempts[m.taskAttemptOffset[5] ?? 0] ?? 0;
    expect(attemptBarEnd(m, a, 30_000)).toBe(30_000);
    expect(modelBounds(m, 30_000)).toEqual({ start: 0, end: 30_000 });
  });
  it('survives an empty run', () => {
    const e = buildModel(timelineFixture(['start'], []));
    expect(modelBounds(e, 5)).toBeNull();
    expect(layoutRows(e, { ...all, now: 0 }).count).toBe(1);
  });
});

describe('layoutRows', () => {
  const m = buildModel(fixture);
  it('puts a header row per step, then its tasks', () => {
    const rows = layoutRows(m, { ...all, now: 30_000 });
    expect(rows.count).toBe(4 + 6);
    expect(Array.from(rows.kind.slice(0, 6))).toEqual([
      ROW_STEP,
      ROW_TASK,
      ROW_STEP,
      ROW_TASK,
      ROW_TASK,
      ROW_TASK,
    ]);
    expect(rows.stepTasks[1]).toBe(3);
    expect(rows.stepStart[1]).toBe(3000);
    expect(rows.stepEnd[1]).toBe(20000);
  });
  it('orders tasks by start (ties by id), end, or longest first', () => {
    const ids = (order: 'start' | 'end' | 'duration') => {
      const rows = layoutRows(m, { ...all, order, now: 30_000 });
      return Array.from(rows.ref.slice(3, 6)).map((i) => taskIdAt(m, i));
    };
    expect(ids('start')).toEqual(['2', '3', '4']);
    expect(ids('end')).toEqual(['4', '2', '3']);
    expect(ids('duration')).toEqual(['3', '2', '4']);
  });
  it('hides collapsed steps and filtered tasks', () => {
    const rows = layoutRows(m, {
      ...all,
      collapsed: new Set([1]),
      statuses: new Set([COMPLETED]),
      now: 0,
    });
    // start(1) + work header + join(1) + end header (its running task filtered out)
    expect(rows.count).toBe(2 + 1 + 2 + 1);
    expect(rowOfTask(rows, 2)).toBe(-1);
    expect(rowOfTask(rows, 4)).toBe(4);
  });
  it('shows only chosen steps', () => {
    const rows = layoutRows(m, { ...all, steps: new Set([2]), now: 0 });
    expect(rows.count).toBe(2);
    expect(rows.ref[0]).toBe(2);
  });
});

describe('hitTest', () => {
  const m = buildModel(fixture);
  const rows = layoutRows(m, { ...all, now: 30_000 });
  const g = {
    rowHeight: 20,
    scrollTop: 0,
    width: 300,
    view: { start: 0, end: 30_000 },
    now: 30_000,
    slopPx: 2,
  };
  it('finds the attempt under the pointer, per retry', () => {
    // Row 4 is task '3': attempt 0 spans 3-5 s (x 30-50), attempt 1 spans 6-20 s (x 60-200).
    const y = 4 * 20 + 10;
    const first = hitTest(m, rows, g, 40, y);
    const second = hitTest(m, rows, g, 100, y);
    expect(first?.kind).toBe('attempt');
    if (first?.kind !== 'attempt' || second?.kind !== 'attempt') throw new Error('no hit');
    expect(m.attemptNumber[first.attempt]).toBe(0);
    expect(m.attemptNumber[second.attempt]).toBe(1);
    expect(taskIdAt(m, second.task)).toBe('3');
  });
  it('misses gaps between bars, beyond the slop', () => {
    expect(hitTest(m, rows, g, 55, 4 * 20 + 10)).toBeNull();
    expect(hitTest(m, rows, g, 51, 4 * 20 + 10)?.kind).toBe('attempt');
  });
  it('hits step headers and respects scrolling', () => {
    expect(hitTest(m, rows, g, 5, 5)).toEqual({ kind: 'step', row: 0, step: 0 });
    expect(hitTest(m, rows, { ...g, scrollTop: 40 }, 5, 5)).toEqual({
      kind: 'step',
      row: 2,
      step: 1,
    });
    expect(hitTest(m, rows, g, 5, 10_000)).toBeNull();
  });
});

describe('criticalPath', () => {
  const m = buildModel(fixture);
  const parents = parentSteps(steps, {
    start: ['work'],
    work: ['join'],
    join: ['end'],
    end: [],
  });
  it('follows the slowest foreach task into the join', () => {
    const path = criticalPath(m, parents, 30_000).map((i) => taskIdAt(m, i));
    expect(path).toEqual(['1', '3', '5', '6']);
  });
  it('works without a DAG', () => {
    const path = criticalPath(m, null, 30_000).map((i) => taskIdAt(m, i));
    expect(path).toEqual(['1', '3', '5', '6']);
  });
  it('walks the laps of a recursive switch that loops on itself', () => {
    const loop = buildModel(
      timelineFixture(
        ['start', 'loop', 'end'],
        [
          { step: 'start', id: '1', attempts: [[0, 1, 'completed']] },
          { step: 'loop', id: '2', attempts: [[2, 3, 'completed']] },
          { step: 'loop', id: '3', attempts: [[4, 5, 'completed']] },
          { step: 'loop', id: '4', attempts: [[6, 7, 'completed']] },
          { step: 'end', id: '5', attempts: [[8, 9, 'completed']] },
        ],
      ),
    );
    const p = parentSteps(['start', 'loop', 'end'], { start: ['loop'], loop: ['loop', 'end'] });
    expect(p).toEqual([[], [0, 1], [1]]);
    expect(criticalPath(loop, p, 0).map((i) => taskIdAt(loop, i))).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
    ]);
  });
  it('is empty when nothing started', () => {
    expect(criticalPath(buildModel(timelineFixture(['start'], [])), null, 0)).toEqual([]);
  });
});

describe('viewport', () => {
  const bounds = { start: 0, end: 10_000 };
  it('maps time to pixels and back', () => {
    const v = { start: 0, end: 1000 };
    expect(timeToX(v, 500, 500)).toBe(250);
    expect(xToTime(v, 500, 250)).toBe(500);
  });
  it('fits the run with air before and more after (for the last label)', () => {
    expect(fitView(bounds)).toEqual({ start: -200, end: 10_600 });
  });
  it('zooms around the anchor', () => {
    const v = zoomView({ start: 0, end: 10_000 }, 0.5, 5000, bounds);
    expect(v).toEqual({ start: 2500, end: 7500 });
  });
  it('does not zoom out past the run or in past the minimum span', () => {
    expect(zoomView(fitView(bounds), 4, 0, bounds)).toEqual(fitView(bounds));
    const tiny = zoomView({ start: 100, end: 110 }, 0.01, 105, bounds);
    expect(tiny.end - tiny.start).toBe(10);
  });
  it('pans but stays in bounds', () => {
    expect(panView({ start: 0, end: 1000 }, 500, bounds)).toEqual({ start: 500, end: 1500 });
    expect(panView({ start: 0, end: 1000 }, 1e9, bounds)).toEqual({ start: 9600, end: 10_600 });
    expect(clampView({ start: -1e6, end: -1e6 + 1000 }, bounds)).toEqual({ start: -200, end: 800 });
  });
  it('puts round ticks relative to the run start', () => {
    const { step, ticks } = niceTicks({ start: 1000, end: 61_000 }, 600, 1000, 80);
    expect(step).toBe(10_000);
    expect(ticks[0]).toBe(1000);
    expect(ticks.at(-1)).toBe(61_000);
  });
});
