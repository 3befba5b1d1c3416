import { describe, expect, it } from 'vitest';
import type { Dag, DagStep, StepSummary } from '../api/models';
import { countsText, dagInput, edgePath, findBackEdges, labelPoint, layoutDag } from './layout';

const step = (type: string, next: string[], extra: Partial<DagStep> = {}): DagStep => ({
  type,
  next,
  doc: '',
  foreach_artifact: null,
  matching_join: null,
  ...extra,
});

const summary = (name: string, counts: Partial<StepSummary['task_counts']>): StepSummary => ({
  step_name: name,
  type: 'linear',
  status: 'completed',
  started_at: 0,
  finished_at: 1,
  task_counts: { pending: 0, running: 0, completed: 0, failed: 0, ...counts },
});

// start -> foreach over items -> work -> train -> join -> branch(a|b) -> join2 -> end
const foreachDag: Dag = {
  start_step: 'start',
  end_step: 'end',
  structure: [],
  steps: {
    start: step('split-foreach', ['work'], { foreach_artifact: 'items', matching_join: 'join' }),
    work: step('linear', ['train']),
    train: step('linear', ['join']),
    join: step('join', ['branch']),
    branch: step('split-static', ['a', 'b'], { matching_join: 'join2' }),
    a: step('linear', ['join2']),
    b: step('linear', ['join2']),
    join2: step('join', ['end']),
    end: step('end', []),
    _parameters: step('linear', ['start']),
  },
};

describe('dagInput', () => {
  it('makes one node per step, a foreach body as one node with counts', () => {
    const input = dagInput(foreachDag, [
      summary('work', { completed: 9812, failed: 3, running: 185 }),
      summary('start', { completed: 1 }),
    ]);
    expect(input.nodes.map((n) => n.id)).toEqual([
      'start',
      'work',
      'train',
      'join',
      'branch',
      'a',
      'b',
      'join2',
      'end',
    ]);
    const work = input.nodes.find((n) => n.id === 'work');
    expect(work?.multi).toBe(true);
    expect(work?.foreachOver).toBe('items');
    expect(work?.total).toBe(10000);
    expect(input.nodes.find((n) => n.id === 'train')?.multi).toBe(true);
    expect(input.nodes.find((n) => n.id === 'join')?.multi).toBe(false);
    expect(input.nodes.find((n) => n.id === 'a')?.multi).toBe(false);
    expect(input.edges.filter((e) => e.kind !== 'forward')).toEqual([]);
    expect(input.edges).toContainEqual({ from: 'branch', to: 'b', kind: 'forward', label: null });
  });

  it('marks a recursive switch: self loops and loops back to an earlier step', () => {
    const dag: Dag = {
      start_step: 'start',
      end_step: 'end',
      structure: [],
      steps: {
        start: step('start', ['check']),
        check: step('split-switch', ['check', 'fix', 'end'], {
          switch_cases: { again: 'check', broken: 'fix', done: 'end' },
        }),
        fix: step('linear', ['start']),
        end: step('end', []),
      },
    };
    const input = dagInput(dag, undefined);
    expect(input.edges).toContainEqual({
      from: 'check',
      to: 'check',
      kind: 'self',
      label: 'again',
    });
    expect(input.edges).toContainEqual({ from: 'fix', to: 'start', kind: 'back', label: null });
    expect(input.edges).toContainEqual({
      from: 'check',
      to: 'end',
      kind: 'forward',
      label: 'done',
    });
    const layout = layoutDag(input);
    const y = (id: string) => layout.nodes.find((n) => n.id === id)?.y ?? Number.NaN;
    // The loop does not drag `start` below the steps it loops back from.
    expect(y('start')).toBeLessThan(y('check'));
    expect(y('check')).toBeLessThan(y('fix'));
    const back = layout.edges.find((e) => e.kind === 'back');
    // A back edge is drawn from its source (fix, lower) to its target (start, higher).
    expect(back?.points[0]?.y ?? 0).toBeGreaterThan(back?.points.at(-1)?.y ?? 0);
    const self = layout.edges.find((e) => e.kind === 'self');
    expect(self?.points.length).toBe(4);
  });
});

describe('findBackEdges', () => {
  it('finds no back edge in a DAG and one per cycle', () => {
    const acyclic = new Map([
      ['s', ['a', 'b']],
      ['a', ['e']],
      ['b', ['e']],
      ['e', []],
    ]);
    expect(findBackEdges('s', acyclic).size).toBe(0);
    const cyclic = new Map([
      ['s', ['a']],
      ['a', ['b']],
      ['b', ['a', 'e']],
      ['e', []],
    ]);
    expect([...findBackEdges('s', cyclic)]).toEqual(['b\u0000a']);
  });
});

describe('layoutDag', () => {
  it('ranks steps top to bottom and routes edges between them', () => {
    const layout = layoutDag(dagInput(foreachDag, undefined));
    const y = (id: string) => layout.nodes.find((n) => n.id === id)?.y ?? Number.NaN;
    expect(y('start')).toBeLessThan(y('work'));
    expect(y('join')).toBeLessThan(y('a'));
    expect(y('a')).toBe(y('b'));
    expect(layout.width).toBeGreaterThan(0);
    for (const e of layout.edges) expect(e.points.length).toBeGreaterThan(1);
  });
});

describe('countsText', () => {
  it('says how many are done, failed and running', () => {
    expect(countsText({ pending: 0, running: 185, completed: 9812, failed: 3 })).toBe(
      '9,812 / 10,000 done · 3 failed · 185 running',
    );
    expect(countsText({ pending: 0, running: 0, completed: 0, failed: 0 })).toBe('not started');
  });
});

describe('edgePath', () => {
  it('draws lines and curves', () => {
    expect(edgePath([])).toBe('');
    expect(
      edgePath([
        { x: 0, y: 0 },
        { x: 0, y: 10 },
      ]),
    ).toBe('M0,0 L0,10');
    expect(
      edgePath([
        { x: 0, y: 0 },
        { x: 0, y: 10 },
        { x: 10, y: 20 },
      ]),
    ).toBe('M0,0 Q0,10 10,20');
  });
});

describe('labelPoint', () => {
  it('sits between the middle points', () => {
    expect(labelPoint([])).toBeNull();
    expect(
      labelPoint([
        { x: 0, y: 0 },
        { x: 10, y: 10 },
        { x: 20, y: 20 },
        { x: 30, y: 30 },
      ]),
    ).toEqual({ x: 15, y: 15 });
  });
});
