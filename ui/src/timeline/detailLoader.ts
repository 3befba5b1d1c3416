// Fetches the detail (attempts, labels) of the tasks on screen, plus a margin, as they
// come into view, and writes it into the cached timeline. Drawing never waits for it: a
// row without detail is drawn from the overview as one bar for the whole task.
import type { QueryClient } from '@tanstack/react-query';
import { mergeDetail } from '../api/cacheTimeline';
import { api } from '../api/client';
import { keys } from '../api/keys';
import { ROW_TASK, type TimelineRows } from './layout';
import { type TimelineModel, taskIdAt } from './model';
import { statusCode, type TaskDetail, type TimelineData, taskKey } from './overview';

/** Rows above and below the screen whose detail is fetched too, so scrolling rarely waits. */
export const MARGIN_ROWS = 150;
/** A run this small gets all its detail at once. */
export const WHOLE_RUN = 1500;
const PER_REQUEST = 1000;
const WAIT_MS = 60;
const RETRY_MS = 2000;

/**
 * The selectors for some tasks of one step: runs of consecutive numeric ids become
 * `step/low-high` ranges (a foreach's tasks are numbered in launch order), any other id
 * is named on its own.
 */
export function selectors(step: string, ids: readonly string[]): string[] {
  const numeric: number[] = [];
  const out: string[] = [];
  for (const id of ids) {
    if (/^\d+$/.test(id) && Number.isSafeInteger(Number(id))) numeric.push(Number(id));
    else out.push(`${step}/${id}`);
  }
  numeric.sort((a, b) => a - b);
  let i = 0;
  while (i < numeric.length) {
    const low = numeric[i] ?? 0;
    let high = low;
    // Small gaps are fetched too: a few extra tasks cost less than more selectors.
    while (i + 1 < numeric.length && (numeric[i + 1] ?? 0) - high <= 3 && high - low < 1500) {
      i++;
      high = numeric[i] ?? high;
    }
    out.push(low === high ? `${step}/${low}` : `${step}/${low}-${high}`);
    i++;
  }
  return out;
}

export class DetailLoader {
  private requested = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private abort = new AbortController();
  private wanted: { step: string; id: string }[] = [];
  private busy = false;
  private pauseUntil = 0;

  constructor(
    private readonly qc: QueryClient,
    private readonly flow: string,
    private readonly run: string,
  ) {}

  /** The rows from `first` to `last` are on screen: fetch what they (and the margin) lack. */
  want(m: TimelineModel, rows: TimelineRows, first: number, last: number): void {
    const wanted: { step: string; id: string }[] = [];
    const add = (i: number) => {
      if (m.taskDetail[i]) return;
      const step = m.steps[m.taskStep[i] ?? 0] ?? '';
      const id = taskIdAt(m, i);
      const key = taskKey(step, id);
      if (this.requested.has(key)) return;
      wanted.push({ step, id });
    };
    if (m.nTasks <= WHOLE_RUN) {
      for (let i = 0; i < m.nTasks; i++) add(i);
    } else {
      const from = Math.max(0, first - MARGIN_ROWS);
      const to = Math.min(rows.count - 1, last + MARGIN_ROWS);
      for (let r = from; r <= to; r++) if (rows.kind[r] === ROW_TASK) add(rows.ref[r] ?? 0);
    }
    if (!wanted.length) return;
    this.wanted = wanted;
    if (this.timer === null && !this.busy) {
      const wait = Math.max(WAIT_MS, this.pauseUntil - Date.now());
      this.timer = setTimeout(() => void this.fetch(), wait);
    }
  }

  private async fetch(): Promise<void> {
    this.timer = null;
    const batch = this.wanted.slice(0, PER_REQUEST);
    this.wanted = this.wanted.slice(PER_REQUEST);
    if (!batch.length) return;
    const byStep = new Map<string, string[]>();
    for (const { step, id } of batch) {
      this.requested.add(taskKey(step, id));
      const list = byStep.get(step) ?? [];
      list.push(id);
      byStep.set(step, list);
    }
    const query = [...byStep].flatMap(([step, ids]) => selectors(step, ids));
    this.busy = true;
    try {
      const got = await api.timelineDetail(this.flow, this.run, query, this.abort.signal);
      const items = got.items.map((t) => ({
        key: taskKey(t.step_name, t.task_id),
        detail: {
          label: t.foreach_label,
          attempts: t.attempts.map((a) => ({
            attempt: a.attempt,
            status: statusCode(a.status),
            start: a.started_at ?? Number.NaN,
            end: a.finished_at ?? Number.NaN,
          })),
        } satisfies TaskDetail,
      }));
      this.qc.setQueryData<TimelineData>(keys.timeline(this.flow, this.run), (d) =>
        d ? mergeDetail(d, items) : d,
      );
    } catch {
      if (this.abort.signal.aborted) return;
      // Asked again when the rows are next drawn, after a pause (the bars stay whole).
      for (const { step, id } of batch) this.requested.delete(taskKey(step, id));
      this.pauseUntil = Date.now() + RETRY_MS;
    } finally {
      this.busy = false;
    }
    if (this.wanted.length && !this.abort.signal.aborted) {
      this.timer = setTimeout(() => void this.fetch(), 0);
    }
  }

  dispose(): void {
    this.abort.abort();
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
