// The timeline's overview: one aggregate per task (step, status, attempt count, span),
// read from the server's packed format (docs/API.md, "Timeline overview") straight into
// typed arrays, and the detail (attempts, labels) of the tasks fetched for the rows on
// screen. Both are immutable: a live change or a detail response makes a new value that
// shares what did not change.
import type { TaskStatus, Timeline } from '../api/models';

export const STATUS_NAMES = ['pending', 'running', 'completed', 'failed'] as const;

export function statusCode(status: string | null | undefined): number {
  const i = STATUS_NAMES.indexOf(status as TaskStatus);
  return Math.max(i, 0);
}

export interface Overview {
  steps: string[];
  /** Tasks in the server's order (task id order). Arrays may be longer (spare room). */
  n: number;
  step: Uint16Array;
  status: Uint8Array;
  /** Number of attempts (0 while pending). */
  attempts: Uint8Array;
  caught: Uint8Array;
  /** Numeric task id, or NaN when the id is a string (then in `stringIds`). */
  idNum: Float64Array;
  stringIds: ReadonlyMap<number, string>;
  /** Epoch ms of the task's start, NaN before it started. */
  start: Float64Array;
  /** Epoch ms of its last attempt's end, NaN while it runs. */
  end: Float64Array;
}

export interface AttemptDetail {
  attempt: number;
  status: number;
  start: number;
  end: number;
}

export interface TaskDetail {
  label: string | null;
  attempts: AttemptDetail[];
}

/** What the timeline query caches: the overview and the detail fetched so far. */
export interface TimelineData {
  overview: Overview;
  /** By `step/task_id`: survives a refetch that reorders or grows the overview. */
  detail: ReadonlyMap<string, TaskDetail>;
}

export const taskKey = (step: string, id: string) => `${step}/${id}`;

export function taskIdOf(o: Overview, i: number): string {
  const n = o.idNum[i] ?? Number.NaN;
  return Number.isNaN(n) ? (o.stringIds.get(i) ?? '') : String(n);
}

export function taskKeyOf(o: Overview, i: number): string {
  return taskKey(o.steps[o.step[i] ?? 0] ?? '', taskIdOf(o, i));
}

/**
 * Finds a task of an overview by step and id. Built once per overview (lazily, on first
 * use: a few milliseconds at 100,000 tasks, since numeric ids are kept as numbers, not
 * strings) and handed on to edited copies by api/cacheTimeline.ts.
 */
export class TaskIndex {
  private readonly numeric = new Map<number, number>();
  private readonly named = new Map<string, number>();

  constructor(o: Overview) {
    for (let i = 0; i < o.n; i++) {
      const num = o.idNum[i] ?? Number.NaN;
      const step = o.step[i] ?? 0;
      if (!Number.isNaN(num) && num < NUMERIC_KEYS) this.numeric.set(num * 1024 + step, i);
      else this.named.set(taskKey(o.steps[step] ?? '', taskIdOf(o, i)), i);
    }
  }

  get(o: Overview, stepName: string, id: string): number | undefined {
    const step = o.steps.indexOf(stepName);
    if (step < 0) return undefined;
    const num = /^\d+$/.test(id) ? Number(id) : Number.NaN;
    if (!Number.isNaN(num) && num < NUMERIC_KEYS && step < 1024) {
      return this.numeric.get(num * 1024 + step);
    }
    return this.named.get(taskKey(stepName, id));
  }

  /** Records task `i` (just appended to `o`). */
  add(o: Overview, i: number): void {
    const num = o.idNum[i] ?? Number.NaN;
    const step = o.step[i] ?? 0;
    if (!Number.isNaN(num) && num < NUMERIC_KEYS && step < 1024)
      this.numeric.set(num * 1024 + step, i);
    else this.named.set(taskKey(o.steps[step] ?? '', taskIdOf(o, i)), i);
  }
}

// Numeric ids times 1024 (room for the step index) stay exact below 2**53.
const NUMERIC_KEYS = 2 ** 43;
const indexes = new WeakMap<Overview, TaskIndex>();

export function taskIndex(o: Overview): TaskIndex {
  let found = indexes.get(o);
  if (!found) {
    found = new TaskIndex(o);
    indexes.set(o, found);
  }
  return found;
}

/** Hands an index on to an edited copy (the caller keeps it current). */
export function moveTaskIndex(from: Overview, to: Overview, index: TaskIndex): void {
  indexes.delete(from);
  indexes.set(to, index);
}

/** `step/task_id` split back into its parts (step names have no slash). */
export function splitKey(key: string): [string, string] {
  const at = key.indexOf('/');
  return [key.slice(0, at), key.slice(at + 1)];
}

const MAGIC = 0x4c545346; // "FSTL" read little-endian
type Kind = 'u8' | 'u16' | 'i32' | 'f64';
const WIDTH: Record<Kind, number> = { u8: 1, u16: 2, i32: 4, f64: 8 };
const MISSING_I32 = -(2 ** 31);

interface Header {
  format: number;
  tasks: number;
  base: number;
  steps: string[];
  string_ids: Record<string, string>;
  columns: [string, Kind][];
}

function view(buf: ArrayBuffer, kind: Kind, offset: number, n: number) {
  switch (kind) {
    case 'u8':
      return new Uint8Array(buf, offset, n);
    case 'u16':
      return new Uint16Array(buf, offset, n);
    case 'i32':
      return new Int32Array(buf, offset, n);
    default:
      return new Float64Array(buf, offset, n);
  }
}

/** Reads the packed overview; throws on anything that is not one. */
export function decodeOverview(buf: ArrayBuffer): Overview {
  const dv = new DataView(buf);
  if (buf.byteLength < 8 || dv.getUint32(0, true) !== MAGIC) {
    throw new Error('not a timeline overview');
  }
  const size = dv.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, size))) as Header;
  if (header.format !== 1) throw new Error(`unknown timeline format ${header.format}`);
  const n = header.tasks;
  let offset = 8 + size;
  const cols = new Map<string, ReturnType<typeof view>>();
  for (const [name, kind] of header.columns) {
    offset += (8 - (offset % 8)) % 8;
    cols.set(name, view(buf, kind, offset, n));
    offset += WIDTH[kind] * n;
  }
  const col = (name: string) => {
    const c = cols.get(name);
    if (!c) throw new Error(`timeline overview without ${name}`);
    return c;
  };
  const times = (c: ReturnType<typeof view>) => {
    const out = new Float64Array(n);
    const int = c instanceof Int32Array;
    for (let i = 0; i < n; i++) {
      const v = c[i] ?? Number.NaN;
      out[i] = (int && v === MISSING_I32) || Number.isNaN(v) ? Number.NaN : v + header.base;
    }
    return out;
  };
  const ids = col('task_id');
  const idNum = new Float64Array(n);
  const stringIds = new Map<number, string>();
  for (let i = 0; i < n; i++) {
    const s = header.string_ids[String(i)];
    if (s !== undefined) {
      stringIds.set(i, s);
      idNum[i] = Number.NaN;
    } else idNum[i] = ids[i] ?? Number.NaN;
  }
  return {
    steps: header.steps,
    n,
    step: Uint16Array.from(col('step')),
    status: Uint8Array.from(col('status')),
    attempts: Uint8Array.from(col('attempts')),
    caught: Uint8Array.from(col('caught')),
    idNum,
    stringIds,
    start: times(col('start')),
    end: times(col('end')),
  };
}

/** An empty overview with room for `capacity` tasks. */
export function emptyOverview(steps: string[], capacity = 0): Overview {
  return {
    steps,
    n: 0,
    step: new Uint16Array(capacity),
    status: new Uint8Array(capacity),
    attempts: new Uint8Array(capacity),
    caught: new Uint8Array(capacity),
    idNum: new Float64Array(capacity),
    stringIds: new Map(),
    start: new Float64Array(capacity),
    end: new Float64Array(capacity),
  };
}

/** A copy to edit, with room for at least `capacity` tasks. */
export function copyOverview(o: Overview, capacity = o.n): Overview {
  const room = Math.max(capacity, o.step.length);
  const grow = <T extends Uint8Array | Uint16Array | Float64Array>(
    a: T,
    make: (n: number) => T,
  ) => {
    const b = make(room);
    b.set(a.subarray(0, o.n) as never);
    return b;
  };
  return {
    steps: o.steps.slice(),
    n: o.n,
    step: grow(o.step, (k) => new Uint16Array(k)),
    status: grow(o.status, (k) => new Uint8Array(k)),
    attempts: grow(o.attempts, (k) => new Uint8Array(k)),
    caught: grow(o.caught, (k) => new Uint8Array(k)),
    idNum: grow(o.idNum, (k) => new Float64Array(k)),
    stringIds: new Map(o.stringIds),
    start: grow(o.start, (k) => new Float64Array(k)),
    end: grow(o.end, (k) => new Float64Array(k)),
  };
}

/** Appends a task to an overview being edited (with room made by copyOverview). */
export function appendTask(o: Overview, step: number, id: string): number {
  const i = o.n;
  o.n += 1;
  o.step[i] = step;
  const num = Number(id);
  if (/^\d+$/.test(id) && Number.isSafeInteger(num)) o.idNum[i] = num;
  else {
    o.idNum[i] = Number.NaN;
    (o.stringIds as Map<number, string>).set(i, id);
  }
  o.status[i] = 0;
  o.attempts[i] = 0;
  o.caught[i] = 0;
  o.start[i] = Number.NaN;
  o.end[i] = Number.NaN;
  return i;
}

const num = (v: number | null | undefined) => (v === null || v === undefined ? Number.NaN : v);

/**
 * The overview and the whole detail of a full (JSON) timeline: what the server would send
 * for it. Tests build their runs this way.
 */
export function fromTimeline(t: Timeline): TimelineData {
  const n = t.tasks.task_id.length;
  const o = emptyOverview(t.steps.slice(), n);
  const detail = new Map<string, TaskDetail>();
  for (let i = 0; i < n; i++) {
    appendTask(o, t.tasks.step[i] ?? 0, t.tasks.task_id[i] ?? '');
    o.status[i] = statusCode(t.tasks.status[i]);
    detail.set(taskKeyOf(o, i), { label: t.tasks.foreach_label[i] ?? null, attempts: [] });
  }
  for (let a = 0; a < t.attempts.task.length; a++) {
    const i = t.attempts.task[a] ?? -1;
    if (i < 0 || i >= n) continue;
    const entry = detail.get(taskKeyOf(o, i));
    entry?.attempts.push({
      attempt: t.attempts.attempt[a] ?? 0,
      status: statusCode(t.attempts.status[a]),
      start: num(t.attempts.started_at[a]),
      end: num(t.attempts.finished_at[a]),
    });
  }
  for (let i = 0; i < n; i++) {
    const entry = detail.get(taskKeyOf(o, i));
    if (!entry) continue;
    entry.attempts.sort((x, y) => x.attempt - y.attempt);
    const first = entry.attempts[0];
    const last = entry.attempts.at(-1);
    o.attempts[i] = Math.min(255, entry.attempts.length);
    o.start[i] = first ? first.start : Number.NaN;
    const done = o.status[i] === 2 || o.status[i] === 3;
    o.end[i] = last && done ? last.end : Number.NaN;
  }
  return { overview: o, detail };
}
