import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type APIRequestContext, test as base, expect, type Page } from '@playwright/test';

const SHOTS = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** Saves a screenshot of a main page under test-output/screenshots/ at the repo root. */
export async function shot(page: Page, name: string) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}${name}.png` });
}

/**
 * Every test fails on a console error or an uncaught exception in the page. A card is the
 * user's own HTML in a sandboxed frame (it may, say, try to load web fonts the sandbox
 * blocks): errors from card frames are not the app's.
 *
 * And on any request that leaves the server (issue 11: flowscope works offline, so no
 * page may load anything from a CDN or any other origin). Again a card is the exception:
 * Metaflow's default card asks Google Fonts for Roboto (offline, it falls back to a local
 * font); what a user's card loads is the card's, not flowscope's.
 */
export const test = base.extend<{
  allowedConsoleErrors: RegExp[];
  consoleErrors: string[];
  foreignRequests: string[];
}>({
  foreignRequests: [
    async ({ page, baseURL }, use) => {
      const server = new URL(baseURL ?? '').origin;
      const foreign: string[] = [];
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (!/^(https?|wss?):$/.test(url.protocol)) return; // data:, blob:, about:
        const from = r.frame().url();
        if (/\/api\/v1\/flows\/.+\/cards\//.test(from)) return;
        if (url.origin !== server) foreign.push(`${r.url()} (from ${from})`);
      });
      await use(foreign);
      expect(foreign, 'requests to another origin than the server').toEqual([]);
    },
    { auto: true },
  ],
  // A test that provokes an error on purpose (an unknown run answers 404) lists it here.
  allowedConsoleErrors: [[], { option: true }],
  consoleErrors: [
    async ({ page, allowedConsoleErrors }, use) => {
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        if (m.location().url.includes('/cards/')) return;
        if (allowedConsoleErrors.some((re) => re.test(m.text()))) return;
        errors.push(`${m.text()} (${m.location().url})`);
      });
      page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      await use(errors);
      expect(errors, 'console errors on the page').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

// Fixture name -> "Flow/run_id", from tests/e2e_server.py; without it, runs are found
// through the API so the suite also works against any server with suitable runs.
const FIXTURES: Record<string, string> = JSON.parse(process.env.FLOWSCOPE_FIXTURES ?? '{}');

interface Run {
  flow_id: string;
  run_id: string;
  status: string;
}
interface Step {
  step_name: string;
  task_counts: Record<string, number>;
}
interface Task {
  step_name: string;
  task_id: string;
  attempt: number;
}

async function getJson<T>(request: APIRequestContext, path: string): Promise<T> {
  const res = await request.get(`api/v1${path}`);
  expect(res.ok(), `GET ${path}`).toBeTruthy();
  return (await res.json()) as T;
}

export interface RunRef {
  flow: string;
  run: string;
}

function fromPathspec(p: string): RunRef {
  const [flow = '', run = ''] = p.split('/');
  return { flow, run };
}

export async function runs(request: APIRequestContext, query = ''): Promise<Run[]> {
  return (await getJson<{ items: Run[] }>(request, `/runs?limit=200${query}`)).items;
}

export async function steps(request: APIRequestContext, r: RunRef): Promise<Step[]> {
  return (await getJson<{ items: Step[] }>(request, `/flows/${r.flow}/runs/${r.run}/steps`)).items;
}

export async function tasks(request: APIRequestContext, r: RunRef, query = ''): Promise<Task[]> {
  return (
    await getJson<{ items: Task[] }>(
      request,
      `/flows/${r.flow}/runs/${r.run}/tasks?limit=500${query}`,
    )
  ).items;
}

const total = (s: Step) => Object.values(s.task_counts).reduce((a, b) => a + b, 0);

/** A completed run with a foreach (a step of several tasks). */
export async function foreachRun(request: APIRequestContext): Promise<RunRef & { step: string }> {
  const candidates = FIXTURES.foreach
    ? [fromPathspec(FIXTURES.foreach)]
    : (await runs(request, '&status=completed')).map((r) => ({ flow: r.flow_id, run: r.run_id }));
  for (const r of candidates) {
    const many = (await steps(request, r)).find((s) => total(s) > 1);
    if (many) return { ...r, step: many.step_name };
  }
  throw new Error('no completed run with a foreach among the runs');
}

export async function failedRun(request: APIRequestContext): Promise<RunRef> {
  if (FIXTURES.failing) return fromPathspec(FIXTURES.failing);
  const [r] = await runs(request, '&status=failed');
  if (!r) throw new Error('no failed run among the runs');
  return { flow: r.flow_id, run: r.run_id };
}

export async function retriedTask(request: APIRequestContext): Promise<(RunRef & Task) | null> {
  const candidates = FIXTURES.retry
    ? [fromPathspec(FIXTURES.retry)]
    : (await runs(request)).map((r) => ({ flow: r.flow_id, run: r.run_id }));
  for (const r of candidates) {
    const t = (await tasks(request, r)).find((x) => x.attempt > 0);
    if (t) return { ...r, ...t };
  }
  return null;
}

/** A task with at least one card. */
export async function cardTask(request: APIRequestContext): Promise<(RunRef & Task) | null> {
  const candidates = FIXTURES.card
    ? [fromPathspec(FIXTURES.card)]
    : (await runs(request)).map((r) => ({ flow: r.flow_id, run: r.run_id }));
  for (const r of candidates.slice(0, 30)) {
    for (const t of await tasks(request, r)) {
      const cards = await getJson<{ items: unknown[] }>(
        request,
        `/flows/${r.flow}/runs/${r.run}/steps/${t.step_name}/tasks/${t.task_id}/cards`,
      );
      if (cards.items.length) return { ...r, ...t };
    }
  }
  return null;
}

/** A task whose stdout has lines, and one of its lines. */
export async function taskWithLog(
  request: APIRequestContext,
  r: RunRef,
): Promise<RunRef & Task & { word: string }> {
  for (const t of await tasks(request, r)) {
    const log = await getJson<{ items: { text: string }[] }>(
      request,
      `/flows/${r.flow}/runs/${r.run}/steps/${t.step_name}/tasks/${t.task_id}/logs/stdout?limit=50`,
    );
    for (const l of log.items) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strip ANSI colour codes
      const plain = l.text.replace(/\x1b\[[0-9;]*m/g, '');
      const word = plain.match(/[A-Za-z]{4,}/)?.[0];
      if (word) return { ...r, ...t, word };
    }
  }
  throw new Error(`no task of ${r.flow}/${r.run} wrote to stdout`);
}

export interface MainPage {
  name: string;
  url: string;
  /** What shows once the page has loaded what it is about. */
  ready: string;
}

/** Shown while part of a page still loads. */
export const BUSY = '.state-loading, .status-strip .muted';

/** Waits until the page shows what it is about, with nothing left loading. */
export async function settled(page: Page, p: MainPage) {
  await expect(page.locator(p.ready).first()).toBeVisible();
  await expect(page.locator(BUSY)).toHaveCount(0);
}

/** Every main page: the lists, the run page's tabs and the task page's tabs. */
export async function mainPages(request: APIRequestContext): Promise<MainPage[]> {
  const enc = encodeURIComponent;
  const r = await foreachRun(request);
  const t = await taskWithLog(request, r);
  const failed = await failedRun(request);
  const card = await cardTask(request);
  const run = `./${enc(r.flow)}/${enc(r.run)}`;
  const task = `${run}/${enc(t.step_name)}/${enc(t.task_id)}`;
  const pages: MainPage[] = [
    { name: 'runs', url: './', ready: '.run-row' },
    { name: 'flows', url: './flows', ready: '.strip-cell' },
    { name: 'run-dag', url: run, ready: '.dag-node' },
    { name: 'run-timeline', url: `${run}?tab=timeline`, ready: '[data-testid="timeline-canvas"]' },
    { name: 'run-tasks', url: `${run}?tab=tasks`, ready: '.task-row' },
    {
      name: 'run-failed',
      url: `./${enc(failed.flow)}/${enc(failed.run)}`,
      ready: '.exception-line',
    },
    { name: 'task-logs', url: task, ready: '.log-line' },
    { name: 'task-artifacts', url: `${task}?section=artifacts`, ready: '.artifact-panel' },
    { name: 'task-metadata', url: `${task}?section=metadata`, ready: '.metadata tbody tr' },
  ];
  if (card) {
    const c = `./${enc(card.flow)}/${enc(card.run)}/${enc(card.step_name)}/${enc(card.task_id)}`;
    pages.push({ name: 'task-cards', url: `${c}?section=cards`, ready: 'iframe.card-frame' });
  }
  return pages;
}

/** The run of a named fixture (tests/fixtures_runs.py); these specs need the e2e server. */
export function fixtureRun(name: string): RunRef {
  const p = FIXTURES[name];
  if (!p) throw new Error(`fixture ${name} missing: run through python -m tests.e2e_server`);
  return fromPathspec(p);
}

/** The tasks of one step of a fixture run. */
export async function stepTasks(request: APIRequestContext, r: RunRef, step: string) {
  return tasks(request, r, `&step_name=${step}`);
}
