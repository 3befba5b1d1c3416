import type { Run } from '../api/models';
import type { Grouping } from './filters';

export type RunRow =
  | {
      kind: 'group';
      key: string;
      count: number;
      failed: number;
      running: number;
      collapsed: boolean;
    }
  | { kind: 'run'; run: Run };

export function groupKey(run: Run, by: Exclude<Grouping, ''>): string {
  return by === 'flow' ? run.flow_id : (run.user ?? '(no user)');
}

/**
 * Rows for the runs table: runs as they came (already sorted by the server), or grouped
 * under a header per flow or user, groups in order of their first run.
 */
export function groupRuns(
  runs: readonly Run[],
  by: Grouping,
  collapsed: ReadonlySet<string>,
): RunRow[] {
  if (!by) return runs.map((run) => ({ kind: 'run', run }));
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const key = groupKey(run, by);
    let list = groups.get(key);
    if (!list) {
      list = [];
      groups.set(key, list);
    }
    list.push(run);
  }
  const rows: RunRow[] = [];
  for (const [key, list] of groups) {
    const isCollapsed = collapsed.has(key);
    rows.push({
      kind: 'group',
      key,
      count: list.length,
      failed: list.filter((r) => r.status === 'failed').length,
      running: list.filter((r) => r.status === 'running').length,
      collapsed: isCollapsed,
    });
    if (!isCollapsed) for (const run of list) rows.push({ kind: 'run', run });
  }
  return rows;
}
