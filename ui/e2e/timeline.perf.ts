// The browser at scale (issue 10): `npm run perf`, or `python -m bench.scale`, which
// starts a server over the generated archive and runs this. Not part of `npm run e2e`.
//
// FLOWSCOPE_BIG_RUN ("Flow/run_id") names a run of many tasks on the server; the runs list
// is the server's whole archive. Every number is measured in the page (performance.now(),
// from navigation or from the input event) and printed on a `PERF {json}` line.
import type { Page } from '@playwright/test';
import { expect, test } from './support';

const BIG_RUN = process.env.FLOWSCOPE_BIG_RUN ?? '';

/** Median, 95th percentile and max of frame intervals while `act` runs. */
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
  const r = (v: number) => Math.round(v * 10) / 10;
  return { frames: frames.length, median: r(q(0.5)), p95: r(q(0.95)), max: r(q(1)) };
}

/** performance.now() in the page when `selector` is in the DOM and a frame has been painted. */
async function whenShown(page: Page, selector: string, timeout = 60_000): Promise<number> {
  await page.locator(selector).first().waitFor({ state: 'attached', timeout });
  return page.evaluate(
    (sel) =>
      new Promise<number>((resolve) => {
        const check = () => {
          if (document.querySelector(sel)) requestAnimationFrame(() => resolve(performance.now()));
          else requestAnimationFrame(check);
        };
        check();
      }),
    selector,
  );
}

async function heapMb(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
  await cdp.detach();
  return Math.round(usedSize / 1e5) / 10;
}

test('a run of 100,000 tasks: DAG, timeline, pan and zoom, memory', async ({ page }) => {
  test.skip(!BIG_RUN, 'set FLOWSCOPE_BIG_RUN to a run of many tasks');
  test.setTimeout(300_000);
  const [flow = '', run = ''] = BIG_RUN.split('/');
  await page.goto(`./${flow}/${run}`, { waitUntil: 'commit' });
  const dagMs = await whenShown(page, '.dag-node');

  // The timeline tab, timed from the click to its first picture on the canvas.
  const tab = page.getByRole('tab', { name: 'Timeline' });
  const clicked = await tab.evaluate((el) => {
    (el as HTMLElement).click();
    return performance.now();
  });
  await page.waitForFunction(
    () => performance.getEntriesByName('flowscope:timeline-drawn').length,
    null,
    {
      timeout: 120_000,
    },
  );
  const drawnAt = await page.evaluate(
    () => performance.getEntriesByName('flowscope:timeline-drawn')[0]?.startTime ?? -1,
  );
  const overview = await page.evaluate(() => {
    const res = performance
      .getEntriesByType('resource')
      .find((e) => e.name.includes('/timeline/overview')) as PerformanceResourceTiming | undefined;
    return { bytes: res?.encodedBodySize ?? -1, ms: Math.round(res?.duration ?? -1) };
  });

  const canvas = page.getByTestId('timeline-canvas');
  const box = await canvas.boundingBox();
  if (!box) throw new Error('no canvas');
  const cx = box.x + box.width * 0.6;
  const cy = box.y + box.height / 2;
  // Zoom with Ctrl+wheel, on this cold load, for 2 s (toward the pointer).
  await page.mouse.move(cx, cy);
  const fitted = Number(await canvas.getAttribute('data-span'));
  const zoom = await frameTimes(page, async () => {
    await page.keyboard.down('Control');
    const started = Date.now();
    let i = 0;
    while (Date.now() - started < 2000) await page.mouse.wheel(0, i++ % 40 < 30 ? -60 : 60);
    await page.keyboard.up('Control');
  });
  const zoomedSpan = Number(await canvas.getAttribute('data-span'));
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
  const heap = await heapMb(page);

  console.log(
    `PERF ${JSON.stringify({
      kind: 'bigrun',
      dagMs: Math.round(dagMs),
      timelineMs: Math.round(drawnAt - clicked),
      overview,
      zoom,
      pan,
      scroll,
      heapMb: heap,
      zoomedBy: Math.round((fitted / zoomedSpan) * 10) / 10,
    })}`,
  );
  expect(zoomedSpan).toBeLessThan(fitted); // Ctrl+wheel zoomed the timeline on a cold load
});

test('the runs archive: first rows, then each filter change', async ({ page }) => {
  test.skip(!BIG_RUN, 'set FLOWSCOPE_BIG_RUN (the archive it belongs to is the server)');
  test.setTimeout(300_000);
  await page.goto('./', { waitUntil: 'commit' });
  const firstRows = await whenShown(page, '.run-row');

  // Each change is timed from its input event (caught before the app sees it) to the
  // first frame that shows only matching rows.
  await page.evaluate(() => {
    const w = window as unknown as { __inputAt: number };
    for (const type of ['click', 'change', 'keydown']) {
      window.addEventListener(type, () => (w.__inputAt = performance.now()), { capture: true });
    }
  });
  // `ok`: every row shown matches it; `some`: a filter was cleared, so the change shows
  // once some row matches (a row the previous filter hid).
  const change = async (
    label: string,
    act: () => Promise<unknown>,
    ok: string,
    mode: 'every' | 'some' = 'every',
  ) => {
    await act();
    const ms = await page.evaluate(
      ([sel, how]) =>
        new Promise<number>((resolve) => {
          const check = () => {
            const rows = [...document.querySelectorAll('.run-row')];
            const shown =
              how === 'some' ? rows.some((r) => r.matches(sel)) : rows.every((r) => r.matches(sel));
            if (rows.length && shown) {
              requestAnimationFrame(() =>
                resolve(performance.now() - (window as unknown as { __inputAt: number }).__inputAt),
              );
            } else requestAnimationFrame(check);
          };
          check();
        }),
      [ok, mode] as const,
    );
    return { label, ms: Math.round(ms) };
  };
  const flow = BIG_RUN.split('/')[0] ?? '';
  // The label is clicked, not the radio checked: the radio is controlled by the URL, so
  // its checked state changes a render later than Playwright's check() looks for it.
  const statusChoice = (label: string) =>
    page.locator('label.status-choice').filter({ hasText: new RegExp(`^\\s*${label}\\s*$`) });
  const changes = [
    await change('status=failed', () => statusChoice('Failed').click(), '[data-status="failed"]'),
    await change(
      'status=running',
      () => statusChoice('Running').click(),
      '[data-status="running"]',
    ),
    await change(
      'status=all',
      () => statusChoice('All').click(),
      ':not([data-status="running"])',
      'some',
    ),
    await change(
      `flow=${flow}`,
      () => page.getByRole('combobox', { name: 'Flow', exact: true }).selectOption(flow),
      `:has(.flow-name[href*="/${flow}/"])`,
    ),
    await change(
      'all flows',
      () => page.getByRole('combobox', { name: 'Flow', exact: true }).selectOption(''),
      `:not(:has(.flow-name[href*="/${flow}/"]))`,
      'some',
    ),
    await change(
      'tag=nightly',
      async () => {
        await page.getByLabel('Add tag filter').fill('nightly');
        await page.getByLabel('Add tag filter').press('Enter');
      },
      ':has(.tag)',
    ),
  ];
  console.log(
    `PERF ${JSON.stringify({ kind: 'archive', firstRowsMs: Math.round(firstRows), changes })}`,
  );
  expect(changes.length).toBe(6);
});
