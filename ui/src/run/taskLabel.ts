import type { Dag } from '../api/models';

/** Steps that run as a @parallel gang (their decorators include `parallel`). */
export function parallelSteps(dag: Dag | undefined): ReadonlySet<string> {
  const found = new Set<string>();
  for (const [name, step] of Object.entries(dag?.steps ?? {})) {
    if ((step.decorators ?? []).some((d) => d.name === 'parallel')) found.add(name);
  }
  return found;
}

/**
 * What tells a task apart from its siblings: its foreach path, or in a @parallel gang its
 * role. The local runtime names the workers `<control>_node_<i>`; the control task keeps
 * the plain id and is node 0 (metaflow/plugins/parallel_decorator.py).
 */
export function taskLabel(
  task: { step_name: string; task_id: string; foreach_label: string | null },
  gangSteps: ReadonlySet<string>,
): string | null {
  if (task.foreach_label) return task.foreach_label;
  if (!gangSteps.has(task.step_name)) return null;
  const worker = /_node_(\d+)$/.exec(task.task_id);
  return worker ? `worker · node ${worker[1]}` : 'control · node 0';
}
