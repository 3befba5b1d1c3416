import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';
import { applyRunUpdate, patchRunInPages, patchTaskInPages } from './cache';
import { keys } from './keys';
import type { Page, Run, Task } from './models';

const run = (id: string, status: Run['status'] = 'running'): Run => ({
  flow_id: 'F',
  run_id: id,
  user: 'ann',
  status,
  status_reason: null,
  started_at: 0,
  finished_at: null,
  duration_ms: null,
  tags: [],
  system_tags: [],
  project: null,
  branch: null,
  first_failure: null,
});

const pages = (...ids: string[][]) => ({
  pages: ids.map((p, i): Page<Run> => ({ items: p.map((id) => run(id)), next_cursor: String(i) })),
  pageParams: ids.map((_, i) => i),
});

describe('patchRunInPages', () => {
  it('replaces the run in its page and keeps the other pages as they were', () => {
    const data = pages(['3', '2'], ['1']);
    const next = patchRunInPages(data, { flow_id: 'F', run_id: '1', status: 'completed' });
    expect(next.pages[1]?.items[0]?.status).toBe('completed');
    expect(next.pages[0]).toBe(data.pages[0]);
  });
  it('returns the same object when the run is not loaded', () => {
    const data = pages(['3']);
    expect(patchRunInPages(data, { flow_id: 'F', run_id: '9', status: 'failed' })).toBe(data);
  });
});

describe('patchTaskInPages', () => {
  it('matches a task by step and id', () => {
    const task = { step_name: 's', task_id: '2', status: 'running' } as Task;
    const data = { pages: [{ items: [task], next_cursor: null }], pageParams: [null] };
    const next = patchTaskInPages(data, { step_name: 's', task_id: '2', status: 'failed' });
    expect(next.pages[0]?.items[0]?.status).toBe('failed');
    expect(patchTaskInPages(data, { step_name: 't', task_id: '2' })).toBe(data);
  });
});

describe('applyRunUpdate', () => {
  it('updates every cached runs list and the run detail', () => {
    const qc = new QueryClient();
    qc.setQueryData(keys.runs({}), pages(['1']));
    qc.setQueryData(keys.runs({ user: 'ann' }), pages(['2', '1']));
    qc.setQueryData(keys.runDetail('F', '1'), {
      ...run('1'),
      parameters: {},
      origin_run_id: null,
      task_count: 3,
    });
    applyRunUpdate(qc, { flow_id: 'F', run_id: '1', status: 'failed', status_reason: 'killed' });
    const lists = qc.getQueriesData<ReturnType<typeof pages>>({ queryKey: keys.runsAll() });
    for (const [, data] of lists) {
      const r = data?.pages.flatMap((p) => p.items).find((x) => x.run_id === '1');
      expect(r?.status).toBe('failed');
    }
    expect(qc.getQueryData<Run>(keys.runDetail('F', '1'))?.status_reason).toBe('killed');
  });
});
