// Live updates with a real flow (issue 4): the test starts tests/live_flows/slow_flow.py
// into the served datastore while the pages are open, and watches the run appear, run and
// finish without a reload. It adds a SlowFlow run to the runs, so it lives in its own file,
// which Playwright runs after app.spec.ts (files run in name order with one worker).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, runs, test } from './support';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const { FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON, FLOWSCOPE_FLOW_ENV } = process.env;

function startSlowFlow(sysroot: string, python: string): ChildProcess {
  const extra: Record<string, string> = JSON.parse(FLOWSCOPE_FLOW_ENV ?? '{}');
  return spawn(python, [`${REPO}tests/live_flows/slow_flow.py`, '--no-pylint', 'run'], {
    cwd: sysroot,
    env: { ...process.env, ...extra, SLOW_FLOW_SLEEP_S: '0.5', SLOW_FLOW_WIDTH: '4' },
    // Its own process group, so the finally below can stop the flow and its tasks.
    detached: true,
    stdio: 'ignore',
  });
}

function killGroup(child: ChildProcess) {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

test('live: a flow started while the page is open appears, runs and finishes', async ({
  page,
  request,
}) => {
  test.skip(
    !FLOWSCOPE_SYSROOT || !FLOWSCOPE_PYTHON,
    'needs FLOWSCOPE_SYSROOT and FLOWSCOPE_PYTHON (python -m tests.e2e_server)',
  );
  if (!FLOWSCOPE_SYSROOT || !FLOWSCOPE_PYTHON) return;
  test.setTimeout(90_000);
  const before = new Set((await runs(request, '&flow_id=SlowFlow')).map((r) => r.run_id));

  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  await expect(page.locator('.health')).toHaveAttribute('data-state', 'up');
  // Set on the page once: still there at the end means nothing reloaded it.
  await page.evaluate(() => {
    (window as unknown as { liveTest: boolean }).liveTest = true;
  });

  const flow = startSlowFlow(FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON);
  try {
    // The runs list shows the new run at the top.
    const first = page.locator('.run-row').first();
    const topRun = async () => {
      const flowName = await first.locator('.flow-name').textContent();
      const id = (await first.locator('.td-id').textContent()) ?? '';
      return flowName === 'SlowFlow' && !before.has(id) ? id : '';
    };
    await expect.poll(topRun, { timeout: 30_000, message: 'a new run at the top' }).not.toBe('');
    const runId = await topRun();
    await expect(first).toHaveAttribute('data-status', 'running');

    // Its run page: the status, and the DAG's counts as the foreach starts.
    await first.locator('.td-id a').click();
    const header = page.locator('.run-header');
    await expect(header).toContainText(runId);
    await expect(header.locator('.status-badge')).toHaveText('Running');
    const work = page.locator('.dag-node[data-step="work"]');
    const counts = work.locator('.node-counts');
    await expect(counts).toBeVisible();
    const countsAtOpen = (await counts.textContent()) ?? '';
    await expect(counts).not.toHaveText(countsAtOpen, { timeout: 30_000 });

    // A work task's page, opened while the task runs: its log lines arrive.
    await work.click();
    const task = page.locator('.task-row').first();
    await expect(task).toContainText('work');
    await task.locator('a').click();
    const stdout = page.locator('.log-view[data-stream="stdout"]');
    await expect(stdout.locator('.log-line', { hasText: /item \d tick 4/ })).toBeVisible({
      timeout: 30_000,
    });
    await expect(page.locator('.run-header .status-badge')).toHaveText('Completed');

    // Back on the run page: it ends completed, every work task done.
    await page.locator('.breadcrumbs').getByRole('link', { name: runId }).click();
    await expect(header.locator('.status-badge')).toHaveText('Completed', { timeout: 30_000 });
    await expect(work).toContainText('4 / 4 done');
    await expect(page.locator('.dag-node[data-step="end"]')).toContainText('Completed');

    // And in the runs list, which was not open when the run finished.
    await page.locator('.topnav').getByRole('link', { name: 'Runs' }).click();
    await expect(
      page.locator('.run-row', { has: page.locator('.td-id', { hasText: runId }) }),
    ).toHaveAttribute('data-status', 'completed');
    expect(
      await page.evaluate(() => (window as unknown as { liveTest?: boolean }).liveTest),
      'the page was never reloaded',
    ).toBe(true);
  } finally {
    killGroup(flow);
  }
});
