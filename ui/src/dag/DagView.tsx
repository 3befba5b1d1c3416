import type { UseQueryResult } from '@tanstack/react-query';
import { useMemo } from 'react';
import type { Dag, Page, StepSummary } from '../api/models';
import { Decorators } from '../components/Decorators';
import { plural } from '../components/format';
import { ErrorState, Loading } from '../components/States';
import { StatusIcon, statusLabel } from '../components/Status';
import { countsText, dagInput, edgePath, labelPoint, layoutDag, type PlacedNode } from './layout';
import './dag.css';

const TYPE_LABEL: Record<string, string> = {
  start: 'start',
  end: 'end',
  linear: '',
  join: 'join',
  'split-static': 'branch',
  'split-foreach': 'foreach split',
  'split-parallel': 'parallel split',
  'split-switch': 'switch',
};

function StateBar({ node, width }: { node: PlacedNode; width: number }) {
  const c = node.counts;
  const total = node.total || 1;
  let x = 0;
  const parts: [string, number][] = [
    ['completed', c.completed],
    ['running', c.running],
    ['failed', c.failed],
    ['pending', c.pending],
  ];
  return (
    <g>
      <rect className="bar-bg" x={0} y={0} width={width} height={4} rx={2} />
      {parts.map(([status, n]) => {
        if (!n) return null;
        const w = (n / total) * width;
        const r = (
          <rect
            key={status}
            className={`bar-${status}`}
            x={x}
            y={0}
            width={Math.max(w, 1.5)}
            height={4}
          />
        );
        x += w;
        return r;
      })}
    </g>
  );
}

function Node({
  node,
  failed,
  cloned,
  onOpen,
}: {
  node: PlacedNode;
  failed: boolean;
  cloned: number;
  onOpen: (step: string) => void;
}) {
  const x = node.x - node.width / 2;
  const y = node.y - node.height / 2;
  const kind = cloned
    ? 'cloned'
    : node.foreachOver
      ? `foreach over ${node.foreachOver}`
      : (TYPE_LABEL[node.type] ?? node.type);
  // A step of a finished run that had no task never ran: say so, not "not started".
  const sub =
    node.status === 'skipped'
      ? 'skipped · never ran'
      : node.total > 1 || node.multi
        ? countsText(node.counts)
        : node.total === 1
          ? statusLabel(node.status)
          : 'not started';
  return (
    <g
      className={`dag-node status-${node.status}${failed ? ' first-failure' : ''}${cloned ? ' cloned' : ''}`}
      transform={`translate(${x},${y})`}
      role="button"
      tabIndex={0}
      data-step={node.id}
      onClick={() => onOpen(node.id)}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onOpen(node.id);
        }
      }}
    >
      {/* Its tooltip and its spoken name: what it shows, and the step's docstring. */}
      <title>
        {`${node.id}${kind ? ` (${kind})` : ''}${cloned ? `, ${cloned} task(s) cloned by resume` : ''}: ${sub}${node.doc ? `. ${node.doc}` : ''}${
          node.decorators.length ? `. ${node.decorators.map((d) => `@${d}`).join(' ')}` : ''
        }`}
      </title>
      {node.multi ? (
        <>
          <rect className="node-stack" x={8} y={8} width={node.width} height={node.height} rx={6} />
          <rect className="node-stack" x={4} y={4} width={node.width} height={node.height} rx={6} />
        </>
      ) : null}
      <rect
        className="focus-ring"
        x={-4}
        y={-4}
        width={node.width + 8}
        height={node.height + 8}
        rx={9}
      />
      <rect className="node-box" width={node.width} height={node.height} rx={6} />
      <rect className="node-edge" width={4} height={node.height} rx={2} />
      <g transform="translate(13,11)">
        <StatusIcon status={node.total || node.status === 'skipped' ? node.status : 'pending'} />
      </g>
      <text className="node-name" x={33} y={22}>
        {node.id}
      </text>
      {kind ? (
        <text className="node-kind" x={node.width - 10} y={22} textAnchor="end">
          {kind}
        </text>
      ) : null}
      <text className="node-counts" x={33} y={42}>
        {sub}
      </text>
      <g transform={`translate(14,${node.height - 14})`}>
        <StateBar node={node} width={node.width - 28} />
      </g>
    </g>
  );
}

export function DagView({
  dag,
  steps,
  failedStep,
  onOpenStep,
  cloned = new Map(),
}: {
  dag: UseQueryResult<Dag>;
  steps: UseQueryResult<Page<StepSummary>>;
  failedStep: string | null;
  /** Steps whose tasks `resume` cloned (step -> how many). */
  cloned?: ReadonlyMap<string, number>;
  onOpenStep: (step: string) => void;
}) {
  // Layout depends only on the graph; counts change while the run goes on.
  const shape = useMemo(
    () => (dag.data ? layoutDag(dagInput(dag.data, undefined)) : null),
    [dag.data],
  );
  const input = useMemo(
    () => (dag.data ? dagInput(dag.data, steps.data?.items) : null),
    [dag.data, steps.data],
  );
  if (dag.isPending) return <Loading what="the DAG" />;
  if (dag.isError)
    return <ErrorState error={dag.error} what="the DAG" onRetry={() => void dag.refetch()} />;
  if (!shape || !input) return null;
  const byId = new Map(input.nodes.map((n) => [n.id, n] as const));
  const skipped = input.nodes.filter((n) => n.status === 'skipped').length;
  return (
    <div className="dag-view">
      <div className="dag-scroll">
        <svg
          className="dag"
          width={shape.width + 16}
          height={shape.height + 16}
          viewBox={`0 0 ${shape.width + 16} ${shape.height + 16}`}
          role="group"
          aria-label="Flow DAG: each step is a button that opens its tasks"
        >
          <defs>
            <marker
              id="arrow"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" className="arrow-head" />
            </marker>
            <marker
              id="arrow-back"
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" className="arrow-head back" />
            </marker>
          </defs>
          {shape.edges.map((e) => (
            <path
              key={`${e.from}->${e.to}`}
              className={`dag-edge ${e.kind}`}
              d={edgePath(e.points)}
              markerEnd={e.kind === 'forward' ? 'url(#arrow)' : 'url(#arrow-back)'}
            />
          ))}
          {shape.edges.map((e) => {
            const at = e.label ? labelPoint(e.points) : null;
            if (!at || !e.label) return null;
            return (
              <text
                key={`${e.from}->${e.to}:label`}
                className="edge-label"
                x={e.kind === 'self' ? at.x + 4 : at.x + 6}
                y={at.y + 4}
              >
                {e.label}
              </text>
            );
          })}
          {shape.nodes.map((n) => {
            const live = byId.get(n.id);
            return (
              <Node
                key={n.id}
                node={live ? { ...live, x: n.x, y: n.y } : n}
                failed={n.id === failedStep}
                cloned={cloned.get(n.id) ?? 0}
                onOpen={onOpenStep}
              />
            );
          })}
        </svg>
      </div>
      <div className="legend">
        {(['completed', 'running', 'failed', 'pending', 'skipped'] as const).map((s) => (
          <span key={s} className="legend-item">
            <StatusIcon status={s} /> {s}
          </span>
        ))}
        {skipped ? (
          <span className="legend-skipped" data-testid="dag-skipped-count">
            {plural(skipped, 'step')} never ran
          </span>
        ) : null}
        <span className="muted">
          Stacked boxes run many tasks (foreach). Dashed arrows loop back (switch). Click a step for
          its tasks.
        </span>
        {steps.isError ? (
          <span className="error-message">Step counts unavailable: {String(steps.error)}</span>
        ) : null}
      </div>
      <StepDetails dag={dag.data} order={shape.nodes.map((n) => n.id)} />
    </div>
  );
}

// What each node stands for beyond its status: its kind, gang size and decorators.
function StepDetails({ dag, order }: { dag: Dag | undefined; order: string[] }) {
  if (!dag) return null;
  const rows = order.filter((name) => {
    const s = dag.steps[name];
    return s && ((s.decorators ?? []).length > 0 || s.num_parallel);
  });
  if (!rows.length) return null;
  return (
    <section className="dag-details" aria-label="Step details">
      <h3>Step details</h3>
      <dl>
        {rows.map((name) => {
          const s = dag.steps[name];
          if (!s) return null;
          return (
            <div key={name} className="dag-detail" data-step={name}>
              <dt className="mono">{name}</dt>
              <dd>
                {s.num_parallel ? (
                  <span className="num-parallel">num_parallel={s.num_parallel} </span>
                ) : null}
                <Decorators decorators={s.decorators ?? []} />
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}
