// DAG layout input and layout: one node per step (a foreach is ONE node with task counts),
// edges from each step's `next`; a switch that loops back makes the graph cyclic, so back
// edges are found first and laid out reversed, then drawn as loops.
import dagre from '@dagrejs/dagre';
import type { Dag, StepSummary, TaskCounts } from '../api/models';

export type EdgeKind = 'forward' | 'back' | 'self';

export interface DagNode {
  id: string;
  type: string;
  status: string;
  counts: TaskCounts;
  total: number;
  /** The step runs many tasks (foreach/parallel body): drawn as a stack. */
  multi: boolean;
  /** For the first step of a foreach body: the artifact it iterates over. */
  foreachOver: string | null;
  doc: string | null;
  /** The step's decorator names (retry, catch, …), from `_graph_info`. */
  decorators: string[];
  width: number;
  height: number;
}

export interface DagEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The switch case that takes this edge, if the source is a switch. */
  label: string | null;
}

export interface DagInput {
  nodes: DagNode[];
  edges: DagEdge[];
}

export const NODE_WIDTH = 260;
export const NODE_HEIGHT = 66;

const ZERO: TaskCounts = { pending: 0, running: 0, completed: 0, failed: 0 };

export function totalTasks(c: TaskCounts): number {
  return c.pending + c.running + c.completed + c.failed;
}

/** "9,812 / 10,000 done · 3 failed · 5 running" */
export function countsText(c: TaskCounts): string {
  const fmt = new Intl.NumberFormat('en-US');
  const total = totalTasks(c);
  if (total === 0) return 'not started';
  const parts = [`${fmt.format(c.completed)} / ${fmt.format(total)} done`];
  if (c.failed) parts.push(`${fmt.format(c.failed)} failed`);
  if (c.running) parts.push(`${fmt.format(c.running)} running`);
  return parts.join(' · ');
}

/** Edges that close a cycle (found by depth-first search from the start step). */
export function findBackEdges(start: string, next: ReadonlyMap<string, readonly string[]>) {
  const back = new Set<string>();
  const state = new Map<string, 1 | 2>(); // 1 on stack, 2 done
  const visit = (root: string) => {
    // Iterative DFS so a long chain of steps cannot overflow the stack.
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const [node, i] = top;
      const targets = next.get(node) ?? [];
      if (i >= targets.length) {
        state.set(node, 2);
        stack.pop();
        continue;
      }
      top[1] = i + 1;
      const to = targets[i];
      if (to === undefined || !next.has(to)) continue;
      const s = state.get(to);
      if (s === 1) back.add(`${node}\u0000${to}`);
      else if (s === undefined) {
        state.set(to, 1);
        stack.push([to, 0]);
      }
    }
  };
  if (next.has(start)) visit(start);
  for (const n of next.keys()) if (!state.has(n)) visit(n);
  return back;
}

export function dagInput(dag: Dag, steps: readonly StepSummary[] | undefined): DagInput {
  const byName = new Map((steps ?? []).map((s) => [s.step_name, s] as const));
  const names = Object.keys(dag.steps).filter((n) => !n.startsWith('_'));
  const next = new Map(names.map((n) => [n, dag.steps[n]?.next ?? []] as const));
  const foreachOver = new Map<string, string | null>();
  for (const n of names) {
    const s = dag.steps[n];
    if (s?.type === 'split-foreach' || s?.type === 'split-parallel') {
      for (const child of s.next) foreachOver.set(child, s.foreach_artifact ?? null);
    }
  }
  // Steps in a foreach body (child of the split through to its join) run many tasks.
  const inBody = new Set<string>();
  for (const n of names) {
    const s = dag.steps[n];
    if (s?.type !== 'split-foreach' && s?.type !== 'split-parallel') continue;
    const stop = s.matching_join;
    const queue = [...s.next];
    while (queue.length) {
      const cur = queue.pop();
      if (cur === undefined || cur === stop || inBody.has(cur) || !next.has(cur)) continue;
      inBody.add(cur);
      queue.push(...(next.get(cur) ?? []));
    }
  }
  const back = findBackEdges(dag.start_step, next);
  const nodes: DagNode[] = names.map((n) => {
    const summary = byName.get(n);
    const counts = summary?.task_counts ?? ZERO;
    const total = totalTasks(counts);
    const multi = inBody.has(n) || total > 1;
    return {
      id: n,
      type: dag.steps[n]?.type ?? summary?.type ?? 'linear',
      status: summary?.status ?? 'pending',
      counts,
      total,
      multi,
      foreachOver: foreachOver.get(n) ?? null,
      doc: dag.steps[n]?.doc ?? null,
      decorators: (dag.steps[n]?.decorators ?? []).map((d) => d.name),
      width: NODE_WIDTH,
      height: NODE_HEIGHT,
    };
  });
  const edges: DagEdge[] = [];
  for (const n of names) {
    const cases = Object.entries(dag.steps[n]?.switch_cases ?? {});
    for (const to of next.get(n) ?? []) {
      if (!next.has(to)) continue;
      const kind: EdgeKind = to === n ? 'self' : back.has(`${n}\u0000${to}`) ? 'back' : 'forward';
      const label =
        cases
          .filter(([, target]) => target === to)
          .map(([c]) => c)
          .join(', ') || null;
      edges.push({ from: n, to, kind, label });
    }
  }
  return { nodes, edges };
}

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode extends DagNode {
  /** Centre of the node. */
  x: number;
  y: number;
}

export interface PlacedEdge extends DagEdge {
  points: Point[];
}

export interface DagLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

export function layoutDag(input: DagInput): DagLayout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 44, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of input.nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const e of input.edges) {
    if (e.kind === 'self') continue;
    // Lay a back edge out forwards so the loop does not pull its target down.
    if (e.kind === 'back') g.setEdge(e.to, e.from, { weight: 0 });
    else g.setEdge(e.from, e.to, { weight: 1 });
  }
  dagre.layout(g);
  const nodes: PlacedNode[] = input.nodes.map((n) => {
    const p = g.node(n.id);
    return { ...n, x: p?.x ?? 0, y: p?.y ?? 0 };
  });
  const at = new Map(nodes.map((n) => [n.id, n] as const));
  const edges: PlacedEdge[] = input.edges.map((e) => {
    const from = at.get(e.from);
    if (e.kind === 'self' && from) {
      // A loop on the node's right side, clear of the stack drawn behind a many-task step.
      const x = from.x + from.width / 2 + (from.multi ? 8 : 0);
      return {
        ...e,
        points: [
          { x, y: from.y - 14 },
          { x: x + 44, y: from.y - 26 },
          { x: x + 44, y: from.y + 26 },
          { x, y: from.y + 14 },
        ],
      };
    }
    const laid = e.kind === 'back' ? g.edge(e.to, e.from) : g.edge(e.from, e.to);
    const points = (laid?.points ?? []).map((p: Point) => ({ x: p.x, y: p.y }));
    return { ...e, points: e.kind === 'back' ? points.reverse() : points };
  });
  const graph = g.graph();
  let width = graph.width ?? 0;
  for (const e of edges)
    for (const p of e.points) width = Math.max(width, p.x + (e.label ? 64 : 24));
  return { width, height: graph.height ?? 0, nodes, edges };
}

/** Where an edge's label goes: its middle point (or the far side of a self loop). */
export function labelPoint(points: readonly Point[]): Point | null {
  if (!points.length) return null;
  const mid = points[Math.floor((points.length - 1) / 2)];
  const next = points[Math.ceil((points.length - 1) / 2)];
  if (!mid || !next) return null;
  return { x: (mid.x + next.x) / 2, y: (mid.y + next.y) / 2 };
}

/** An SVG path through edge points, smoothed with quadratic curves at the corners. */
export function edgePath(points: readonly Point[]): string {
  const first = points[0];
  if (!first) return '';
  let d = `M${first.x},${first.y}`;
  if (points.length === 2) {
    const p = points[1];
    return p ? `${d} L${p.x},${p.y}` : d;
  }
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const q = points[i + 1];
    if (!p || !q) continue;
    const mx = i === points.length - 2 ? q.x : (p.x + q.x) / 2;
    const my = i === points.length - 2 ? q.y : (p.y + q.y) / 2;
    d += ` Q${p.x},${p.y} ${mx},${my}`;
  }
  return d;
}
