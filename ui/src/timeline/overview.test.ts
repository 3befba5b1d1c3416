import { describe, expect, it } from 'vitest';
import { selectors } from './detailLoader';
import { timelineFixture } from './fixtures';
import { hitTest } from './hitTest';
import { laneCounts } from './lane';
import { layoutRows, visibleTaskSpan } from './layout';
import { baseModel, buildModel, hasAttempts, taskIdAt } from './model';
import { decodeOverview, taskIdOf } from './overview';
import { tickLabel } from './viewport';

/** The server's packed overview (api/routes/timeline.py, pack_overview), written by hand. */
function packed(): ArrayBuffer {
  const header = JSON.stringify({
    format: 1,
    tasks: 3,
    base: 1_700_000_000_000,
    steps: ['start', 'work'],
    string_ids: { '2': 'argo-x' },
    columns: [
      ['step', 'u16'],
      ['status', 'u8'],
      ['attempts', 'u8'],
      ['caught', 'u8'],
      ['task_id', 'i32'],
      ['start', 'i32'],
      ['end', 'i32'],
    ],
  });
  const head = new TextEncoder().encode(header);
  const parts: [string, number[]][] = [
    ['u16', [0, 1, 1]],
    ['u8', [2, 3, 1]],
    ['u8', [1, 2, 1]],
    ['u8', [0, 1, 0]],
    ['i32', [1, 2, -1]],
    ['i32', [0, 1000, 2000]],
    ['i32', [500, 9000, -(2 ** 31)]],
  ];
  let size = 8 + head.length;
  const offsets: number[] = [];
  for (const [kind, values] of parts) {
    size += (8 - (size % 8)) % 8;
    offsets.push(size);
    size += values.length * ({ u8: 1, u16: 2, i32: 4 }[kind] ?? 0);
  }
  const buf = new ArrayBuffer(size);
  const dv = new DataView(buf);
  dv.setUint32(0, 0x4c545346, true);
  dv.setUint32(4, head.length, true);
  new Uint8Array(buf, 8, head.length).set(head);
  parts.forEach(([kind, values], k) => {
    const at = offsets[k] ?? 0;
    values.forEach((v, i) => {
      if (kind === 'u8') dv.setUint8(at + i, v);
      else if (kind === 'u16') dv.setUint16(at + 2 * i, v, true);
      else dv.setInt32(at + 4 * i, v, true);
    });
  });
  return buf;
}

describe('decodeOverview', () => {
  const o = decodeOverview(packed());
  it('reads every column of the packed format', () => {
    expect(o.n).toBe(3);
    expect(Array.from(o.step)).toEqual([0, 1, 1]);
    expect(Array.from(o.status)).toEqual([2, 3, 1]);
    expect(Array.from(o.attempts)).toEqual([1, 2, 1]);
    expect(Array.from(o.caught)).toEqual([0, 1, 0]);
    expect([0, 1, 2].map((i) => taskIdOf(o, i))).toEqual(['1', '2', 'argo-x']);
    expect(o.start[1]).toBe(1_700_000_001_000);
    expect(o.end[1]).toBe(1_700_000_009_000);
    expect(Number.isNaN(o.end[2] ?? 0)).toBe(true);
  });
  it('refuses what is not an overview', () => {
    expect(() => decodeOverview(new ArrayBuffer(16))).toThrow('not a timeline overview');
  });
  it('draws a task without detail as one bar, hit as a whole', () => {
    const m = baseModel(o);
    expect(hasAttempts(m, 1)).toBe(false);
    const rows = layoutRows(m, {
      order: 'start',
      statuses: null,
      steps: null,
      collapsed: new Set(),
      now: 1_700_000_010_000,
    });
    const g = {
      rowHeight: 20,
      scrollTop: 0,
      width: 1000,
      view: { start: 1_700_000_000_000, end: 1_700_000_010_000 },
      now: 1_700_000_010_000,
      slopPx: 2,
    };
    // Rows: start header, task 1, work header, task 2, task argo-x.
    const hit = hitTest(m, rows, g, 500, 3 * 20 + 10);
    expect(hit).toEqual({ kind: 'attempt', row: 3, task: 1, attempt: -1 });
  });
});

describe('detail', () => {
  it('adds attempts to the tasks it covers only', () => {
    const data = timelineFixture(
      ['work'],
      [
        { step: 'work', id: '1', attempts: [[0, 1, 'completed']] },
        {
          step: 'work',
          id: '2',
          attempts: [
            [0, 1, 'failed'],
            [2, 3, 'completed'],
          ],
        },
      ],
    );
    const only = new Map([...data.detail].filter(([key]) => key === 'work/2'));
    const m = buildModel({ overview: data.overview, detail: only });
    expect(hasAttempts(m, 0)).toBe(false);
    expect(hasAttempts(m, 1)).toBe(true);
    expect(m.nAttempts).toBe(2);
    expect(taskIdAt(m, 1)).toBe('2');
  });
  it('asks for runs of numeric ids as ranges, other ids by name', () => {
    expect(selectors('work', ['5', '3', '4', '9', 'x-1', '20'])).toEqual([
      'work/x-1',
      'work/3-5',
      'work/9',
      'work/20',
    ]);
    expect(selectors('work', ['1', '3'])).toEqual(['work/1-3']); // a small gap is fetched too
  });
});

describe('the density lane', () => {
  const data = timelineFixture(
    ['work'],
    [
      { step: 'work', id: '1', attempts: [[0, 10, 'completed']] },
      { step: 'work', id: '2', attempts: [[5, 10, 'failed']] },
      { step: 'work', id: '3', attempts: [[8, null, 'running']] },
    ],
  );
  const m = baseModel(data.overview);
  it('counts the tasks running in each column, by outcome', () => {
    const all = new Int32Array([0, 1, 2]);
    const lane = laneCounts(m, all, { start: 0, end: 10_000 }, 10, 10_000);
    expect(Array.from(lane.completed)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(lane.failed)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(Array.from(lane.running)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(lane.max).toBe(3);
  });
  it('leaves out what is outside the view', () => {
    const lane = laneCounts(
      m,
      new Int32Array([0, 1, 2]),
      { start: 20_000, end: 30_000 },
      10,
      15_000,
    );
    expect(lane.max).toBe(0);
  });
  it('gives the span of the rows on screen', () => {
    const rows = layoutRows(m, {
      order: 'start',
      statuses: null,
      steps: null,
      collapsed: new Set(),
      now: 12_000,
    });
    expect(visibleTaskSpan(m, rows, 0, 2, 12_000)).toEqual({ start: 0, end: 10_000 });
    expect(visibleTaskSpan(m, rows, 3, 3, 12_000)).toEqual({ start: 8000, end: 12_000 });
    expect(visibleTaskSpan(m, rows, 0, 0, 12_000)).toBeNull(); // a step header only
  });
});

describe('axis labels', () => {
  it('are as precise as the ticks', () => {
    expect(tickLabel(2 * 3_600_000, 3_600_000)).toBe('2h');
    expect(tickLabel(2 * 3_600_000 + 5 * 60_000, 300_000)).toBe('2:05');
    expect(tickLabel(90_000, 30_000)).toBe('1:30');
    expect(tickLabel(2 * 3_600_000 + 3_000, 1000)).toBe('2:00:03');
    expect(tickLabel(2 * 3_600_000 + 3_250, 10)).toBe('2:00:03.25');
    expect(tickLabel(7_010, 5)).toBe('7.010s');
    expect(tickLabel(0, 1000)).toBe('0s');
  });
  it('differ between neighbouring ticks at any zoom', () => {
    for (const step of [1, 10, 100, 1000, 60_000]) {
      const labels = [0, 1, 2, 3].map((k) => tickLabel(3 * 3_600_000 + 7_000 + k * step, step));
      expect(new Set(labels).size).toBe(4);
    }
  });
});
