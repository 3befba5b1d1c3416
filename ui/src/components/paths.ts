// URLs mirror Metaflow pathspecs: /{flow}/{run}/{step}/{task}.

export interface Pathspec {
  flow: string;
  run?: string;
  step?: string;
  task?: string;
}

const seg = encodeURIComponent;

export function runsUrl(params?: Record<string, string>): string {
  const qs = params ? new URLSearchParams(params).toString() : '';
  return qs ? `/?${qs}` : '/';
}

export function runUrl(flow: string, run: string, params?: Record<string, string>): string {
  const qs = params ? new URLSearchParams(params).toString() : '';
  return `/${seg(flow)}/${seg(run)}${qs ? `?${qs}` : ''}`;
}

export function taskUrl(
  flow: string,
  run: string,
  step: string,
  task: string,
  attempt?: number,
): string {
  const base = `/${seg(flow)}/${seg(run)}/${seg(step)}/${seg(task)}`;
  return attempt === undefined ? base : `${base}?attempt=${attempt}`;
}

/**
 * Reads what a user pastes into the go-to box: `Flow/Run/Step/Task` (or a prefix of it),
 * also wrapped as `Run('Flow/12')`/`Task("…")`, or a flowscope URL.
 */
export function parsePathspec(input: string): Pathspec | null {
  let text = input.trim();
  if (!text) return null;
  const wrapped = /^[A-Za-z]*\(\s*['"]([^'"]+)['"]\s*\)$/.exec(text);
  if (wrapped?.[1]) text = wrapped[1];
  if (/^https?:\/\//i.test(text)) {
    try {
      text = new URL(text).pathname;
    } catch {
      return null;
    }
  }
  text = text.replace(/^['"]|['"]$/g, '').replace(/^\/+|\/+$/g, '');
  const parts = text
    .split('/')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const [flow, run, step, task] = parts;
  if (!flow || parts.length > 4) return null;
  if (!/^[A-Za-z_][\w]*$/.test(flow)) return null;
  try {
    return {
      flow,
      ...(run ? { run: decodeURIComponent(run) } : {}),
      ...(step ? { step: decodeURIComponent(step) } : {}),
      ...(task ? { task: decodeURIComponent(task) } : {}),
    };
  } catch {
    return null;
  }
}

/** Where a pathspec leads: task page, run page (tasks of a step), or runs of a flow. */
export function pathspecUrl(p: Pathspec): string {
  if (p.run && p.step && p.task) return taskUrl(p.flow, p.run, p.step, p.task);
  if (p.run && p.step) return runUrl(p.flow, p.run, { tab: 'tasks', step: p.step });
  if (p.run) return runUrl(p.flow, p.run);
  return runsUrl({ flow_id: p.flow });
}
