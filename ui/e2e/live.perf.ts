// A burst of live events in a real browser: `npm run perf:live` (not part of `npm run e2e`).
// A run page (DAG, timeline or task table) of one of the server's runs, shown as running,
// is fed 10,000 synthetic events over 2 seconds (a foreach of 3,334 tasks starting: each
// task's creation, its attempt, its step's counts) from a little event server of the test's
// own; reports frame times while they arrive and the longest main-thread task.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { expect, foreachRun, steps, test } from './support';

const EVENTS = 10_000;
const SPREAD_MS = 2_000;

function events(flow: string, run: string, step: string): string[] {
  const out: string[] = [];
  const base = { flow_id: flow, run_id: run, step_name: step };
  const now = Date.now();
  for (let i = 0; out.length < EVENTS; i++) {
    const task_id = String(100_000 + i);
    const frame = (kind: string, data: object) =>
      `id: ${out.length + 1}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`;
    out.push(
      frame('task_created', {
        ...base,
        task_id,
        status: 'running',
        status_reason: null,
        caught: false,
        attempt: 0,
        started_at: now + i,
        finished_at: null,
        duration_ms: null,
        foreach_label: null,
      }),
    );
    out.push(
      frame('attempt_status', {
        ...base,
        task_id,
        attempt: 0,
        status: 'running',
        status_reason: null,
        started_at: now + i,
        finished_at: null,
      }),
    );
    out.push(
      frame('step_status', {
        ...base,
        type: 'linear',
        status: 'running',
        started_at: now,
        finished_at: null,
        task_counts: { pending: 0, running: i + 1, completed: 0, failed: 0 },
      }),
    );
  }
  return out.slice(0, EVENTS);
}

/**
 * Serves the frames as an event stream, spread evenly over SPREAD_MS, once `start` is
 * called (when the page has read the run: events before that would be news of things the
 * synthetic run's responses never had).
 */
async function eventServer(frames: string[]) {
  const waiting = new Set<(ok: boolean) => void>();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
    res.write('retry: 3600000\n\nid: 0\nevent: hello\ndata: {"newest":0}\n\n');
    const go = () => {
      const chunks = 200;
      const per = Math.ceil(frames.length / chunks);
      let k = 0;
      const timer = setInterval(() => {
        res.write(frames.slice(k * per, (k + 1) * per).join(''));
        if (++k >= chunks) clearInterval(timer);
      }, SPREAD_MS / chunks);
      res.on('close', () => clearInterval(timer));
    };
    waiting.add(go);
    res.on('close', () => waiting.delete(go));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const start = () => {
    for (const go of waiting) go(true);
    waiting.clear();
  };
  return { server, start };
}

async function measure(page: Page, act: () => Promise<void>) {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean; __long: number[] };
    w.__frames = [];
    w.__long = [];
    w.__stop = false;
    let last = performance.now();
    const tick = (t: number) => {
      w.__frames.push(t - last);
      last = t;
      if (!w.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await act();
  const { frames, long } = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean; __long: number[] };
    w.__stop = true;
    return { frames: w.__frames.slice(1), long: w.__long };
  });
  const sorted = [...frames].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return {
    frames: frames.length,
    median: Math.round(q(0.5)),
    p95: Math.round(q(0.95)),
    max: Math.round(q(1)),
    longTasks: long.length,
    longestTaskMs: Math.round(Math.max(0, ...long)),
  };
}

test('10,000 live events in 2 seconds: DAG, timeline and task table stay responsive', async ({
  page,
  request,
}) => {
  test.setTimeout(120_000);
  const r = await foreachRun(request);
  const before = (await steps(request, r)).reduce(
    (n, s) => n + Object.values(s.task_counts).reduce((a, b) => a + b, 0),
    0,
  );
  const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);
  const created = Math.ceil(EVENTS / 3);
  const allTasks = `${fmt(before + created)} tasks`;
  const { server, start } = await eventServer(events(r.flow, r.run, r.step));
  const port = (server.address() as AddressInfo).port;
  await page.addInitScript(() => {
    const w = window as unknown as { __long: number[] };
    w.__long = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__long.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  // The run as if it were still running, its events from the test's server.
  await page.route(/\/api\/v1\/flows\/[^/]+\/runs\/[^/?]+$/, async (route) => {
    const response = await route.fetch();
    const run = await response.json();
    await route.fulfill({ response, json: { ...run, status: 'running', finished_at: null } });
  });
  await page.route(/\/api\/v1\/events\?/, (route) =>
    route.continue({ url: `http://127.0.0.1:${port}/events` }),
  );
  const report: Record<string, unknown> = { events: EVENTS, spreadMs: SPREAD_MS };
  try {
    for (const tab of ['dag', 'timeline', 'tasks'] as const) {
      await page.goto(`./${r.flow}/${r.run}${tab === 'dag' ? '' : `?tab=${tab}`}`);
      const ready =
        tab === 'dag'
          ? page.locator('.dag-node').first()
          : tab === 'timeline'
            ? page.getByTestId('timeline-canvas')
            : page.locator('.task-row').first();
      await expect(ready).toBeVisible();
      await page.waitForLoadState('networkidle');
      report[tab] = await measure(page, async () => {
        start();
        // The last step event counts the tasks before the last task_created.
        const done =
          tab === 'dag'
            ? page.locator(`.dag-node[data-step="${r.step}"]`, {
                hasText: `${fmt(Math.floor(EVENTS / 3))} running`,
              })
            : tab === 'timeline'
              ? page.locator('.timeline-toolbar', { hasText: allTasks })
              : page.locator('.tasks-tab .toolbar', { hasText: allTasks });
        await expect(done).toBeVisible({ timeout: 30_000 });
      });
    }
  } finally {
    server.close();
  }
  console.log(`PERF ${JSON.stringify(report)}`);
});
