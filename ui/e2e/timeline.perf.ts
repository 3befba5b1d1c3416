// Timeline and task table at scale: `npm run perf` (not part of `npm run e2e`).
// Opens the run named by FLOWSCOPE_BIG_RUN ("Flow/run_id", e.g. the generator's
// 10,000-task fixture); without it, any run of the server with its timeline and task
// pages replaced by a synthetic run of PERF_TASKS (default 100,000) foreach tasks.
import type { Page, Route } from '@playwright/test';
import { expect, foreachRun, test } from './support';

const N = Number(process.env.PERF_TASKS ?? 100_000);

function syntheticTimeline(n: number, step: string) {
  const t0 = Date.UTC(2026, 0, 1);
  const tasks = {
    step: [0] as number[],
    task_id: ['1'],
    foreach_label: [null] as (string | null)[],
    status: ['completed'],
  };
  const attempts = {
    task: [0] as number[],
    attempt: [0] as number[],
    status: ['completed'] as string[],
    started_at: [t0] as (number | null)[],
    finished_at: [t0 + 20_000] as (number | null)[],
  };
  let seed = 1;
  const rnd = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let i = 0; i < n; i++) {
    const idx = tasks.task_id.length;
    tasks.step.push(1);
    tasks.task_id.push(String(i + 2));
    tasks.foreach_label.push(`items[${i}]=${i}`);
    const start = t0 + 30_000 + Math.floor((i / n) * 3 * 3_600_000);
    const retried = rnd() < 0.02;
    if (retried) {
      attempts.task.push(idx);
      attempts.attempt.push(0);
      attempts.status.push('failed');
      attempts.started_at.push(start);
      attempts.finished_at.push(start + 60_000);
    }
    const s = retried ? start + 65_000 : start;
    attempts.task.push(idx);
    attempts.attempt.push(retried ? 1 : 0);
    attempts.status.push('completed');
    attempts.started_at.push(s);
    attempts.finished_at.push(s + 120_000 + Math.floor(rnd() * 900_000));
    tasks.status.push('completed');
  }
  return { steps: ['start', step, 'join', 'end'], tasks, attempts };
}

async function fakeBigRun(page: Page, step: string) {
  const body = JSON.stringify(syntheticTimeline(N, step));
  await page.route(/\/api\/v1\/flows\/[^/]+\/runs\/[^/]+\/timeline/, (route: Route) =>
    route.fulfill({ status: 200, contentType: 'application/json', body }),
  );
  await page.route(/\/api\/v1\/flows\/[^/]+\/runs\/[^/]+\/tasks\?/, (route: Route) => {
    const url = new URL(route.request().url());
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 500);
    const items = [];
    for (let i = cursor; i < Math.min(N, cursor + limit); i++) {
      items.push({
        flow_id: 'F',
        run_id: '1',
        step_name: step,
        task_id: String(i + 2),
        status: 'completed',
        status_reason: null,
        caught: false,
        attempt: 0,
        started_at: 1_700_000_000_000 + i,
        finished_at: 1_700_000_100_000 + i,
        duration_ms: 100_000,
        foreach_label: `items[${i}]=${i}`,
      });
    }
    const next = cursor + limit < N ? String(cursor + limit) : null;
    return route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ items, next_cursor: next }),
    });
  });
  await page.route(/\/api\/v1\/flows\/[^/]+\/runs\/[^/]+\/steps$/, (route: Route) =>
    route.fulfill({
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        items: ['start', step, 'join', 'end'].map((s) => ({
          step_name: s,
          type: 'linear',
          status: 'completed',
          started_at: null,
          finished_at: null,
          task_counts: { pending: 0, running: 0, completed: s === step ? N : 1, failed: 0 },
        })),
        next_cursor: null,
      }),
    }),
  );
}

/** Median and 95th percentile of frame intervals while `act` runs. */
async function frameTimes(page: Page, act: () => Promise<void>) {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__frames = [];
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
  const frames = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__stop = true;
    return w.__frames.slice(1);
  });
  const sorted = [...frames].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return { frames: frames.length, median: q(0.5), p95: q(0.95), max: q(1) };
}

test('a big run: first paint, timeline pan and zoom, task table scroll', async ({
  page,
  request,
}) => {
  test.setTimeout(180_000);
  let flow: string;
  let run: string;
  const big = process.env.FLOWSCOPE_BIG_RUN;
  if (big) {
    [flow = '', run = ''] = big.split('/');
  } else {
    const r = await foreachRun(request);
    flow = r.flow;
    run = r.run;
    await fakeBigRun(page, r.step);
  }
  // The run page as it opens (header and DAG with counts).
  const tRun = Date.now();
  await page.goto(`./${flow}/${run}`);
  await expect(page.locator('.dag-node').first()).toBeVisible({ timeout: 60_000 });
  await expect(page.locator('.dag-node', { hasText: 'done' }).first()).toBeVisible();
  const runPageMs = Date.now() - tRun;

  const t0 = Date.now();
  await page.goto(`./${flow}/${run}?tab=timeline`);
  const canvas = page.getByTestId('timeline-canvas');
  await expect(canvas).toBeVisible({ timeout: 60_000 });
  await page.evaluate(
    () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
  );
  const firstPaint = Date.now() - t0;
  // In-page timings, from navigation start: when the timeline JSON had arrived, how long
  // building the typed arrays took, and when the first picture was on the canvas.
  const inPage = await page.evaluate(() => {
    const res = performance
      .getEntriesByType('resource')
      .find((e) => e.name.includes('/timeline')) as PerformanceResourceTiming | undefined;
    const model = performance.getEntriesByName('flowscope:timeline-model')[0];
    const drawn = performance.getEntriesByName('flowscope:timeline-drawn')[0];
    return {
      timelineFetchedMs: Math.round(res?.responseEnd ?? -1),
      timelineBytes: res?.encodedBodySize ?? -1,
      modelBuildMs: Math.round(model?.duration ?? -1),
      firstDrawMs: Math.round(drawn?.startTime ?? -1),
    };
  });

  const box = await canvas.boundingBox();
  if (!box) throw new Error('no canvas');
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  // Zoom in first so that panning moves something.
  await page.mouse.move(cx, cy);
  await page.keyboard.down('Control');
  for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -200);
  await page.keyboard.up('Control');
  await page.getByRole('button', { name: 'Zoom in' }).click();
  await page.getByRole('button', { name: 'Zoom in' }).click();

  const pan = await frameTimes(page, async () => {
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 2000) {
      i++;
      await page.mouse.move(cx - 300 * Math.sin(i / 10), cy - (i % 200));
    }
    await page.mouse.up();
  });
  const scroll = await frameTimes(page, async () => {
    const started = Date.now();
    while (Date.now() - started < 2000) await page.mouse.wheel(0, 400);
  });

  await page.getByRole('tab', { name: 'Tasks' }).click();
  const table = page.getByTestId('tasks-table').locator('.tbody');
  await expect(page.locator('.task-row').first()).toBeVisible();
  const tableScroll = await frameTimes(page, async () => {
    await table.hover();
    const started = Date.now();
    while (Date.now() - started < 2000) await page.mouse.wheel(0, 1500);
  });

  const report = {
    tasks: big ? 'FLOWSCOPE_BIG_RUN' : N,
    runPageMs,
    firstPaintMs: firstPaint,
    ...inPage,
    pan,
    scroll,
    tableScroll,
  };
  console.log(`PERF ${JSON.stringify(report)}`);
  expect(pan.median).toBeLessThan(50);
});
