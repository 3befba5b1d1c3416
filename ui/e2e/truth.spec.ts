// Truth in every view (issue 9), in real Chromium on the real fixture runs of
// tests/e2e_server.py (tests/fixtures_runs.py says what each run is there to show).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, runs, test } from './support';

const FIXTURES: Record<string, string> = JSON.parse(process.env.FLOWSCOPE_FIXTURES ?? '{}');

/** `./Flow/run` of a fixture run; the spec needs the fixture server's runs. */
function runPath(name: string): string {
  const pathspec = FIXTURES[name];
  if (!pathspec) throw new Error(`fixture run ${name} missing: run through tests/e2e_server.py`);
  return `./${pathspec.split('/').map(encodeURIComponent).join('/')}`;
}

test('a step that never ran in a finished run is drawn and counted as skipped', async ({
  page,
}) => {
  // The switch took `big`: `small` never ran.
  await page.goto(runPath('switch'));
  const small = page.locator('.dag-node[data-step="small"]');
  await expect(small).toHaveClass(/status-skipped/);
  await expect(small.locator('.node-counts')).toHaveText('skipped · never ran');
  await expect(small.locator('.status-icon')).toHaveClass(/status-skipped/);
  await expect(page.locator('.dag-node[data-step="big"]')).toHaveClass(/status-completed/);
  await expect(page.getByTestId('dag-skipped-count')).toHaveText('1 step never ran');
  await expect(page.getByTestId('run-step-counts')).toHaveText('4 steps · 1 skipped');

  // A run that failed in `middle`: its `end` never ran, and is not pending.
  await page.goto(runPath('failing'));
  await expect(page.locator('.dag-node[data-step="end"]')).toHaveClass(/status-skipped/);
  await expect(page.locator('.dag-node.status-pending')).toHaveCount(0);
  await expect(page.getByTestId('run-step-counts')).toHaveText('3 steps · 1 failed · 1 skipped');
});

test('a run whose tags were edited still starts before it ends', async ({ page }) => {
  // Editing the `tags` run's tags rewrote its record's ts_epoch after the run ended.
  await page.goto(runPath('tags'));
  const field = (label: string) =>
    page.locator('.run-header .field').filter({ has: page.getByText(label, { exact: true }) });
  const started = await field('Started').locator('time').getAttribute('datetime');
  const finished = await field('Finished').locator('time').getAttribute('datetime');
  expect(started && finished).toBeTruthy();
  expect(Date.parse(started ?? '')).toBeLessThan(Date.parse(finished ?? ''));
  await expect(field('Duration').locator('.duration')).not.toHaveText('0ms');
});

test("a task's duration is the same in the Tasks tab and on its page; the attempt's is labelled", async ({
  page,
}) => {
  await page.goto(`${runPath('linear')}?tab=tasks`);
  const row = page.locator('.task-row', { hasText: 'middle' }).first();
  await expect(row).toBeVisible();
  const listed = (await row.locator('.td-num').last().textContent())?.trim() ?? '';
  expect(listed).toMatch(/\d/);
  await row.click();
  await expect(page.getByTestId('task-duration').locator('.duration')).toHaveText(listed);
  const attempt = page.getByTestId('attempt-summary');
  await expect(attempt).toContainText('Attempt 0');
  await expect(attempt.getByTestId('attempt-duration')).toContainText('attempt duration');
  await expect(attempt.getByTestId('attempt-started')).toContainText('attempt started');
});

test('a task whose failure @catch swallowed has one status in the table and its header', async ({
  page,
}) => {
  await page.goto(`${runPath('catch')}?tab=tasks`);
  const row = page.locator('.task-row', { hasText: 'risky' }).first();
  await expect(row.locator('.status-badge')).toHaveText('Failed · caught');
  await row.click();
  // The header's one badge is the task's; the attempt's own status is labelled as such.
  await expect(page.locator('.run-header .status-badge')).toHaveText('Failed · caught');
  const attempt = page.getByTestId('attempt-summary');
  await expect(attempt).toContainText('Attempt 0');
  await expect(attempt.getByTestId('attempt-status')).toHaveText('Completed');
  await expect(attempt.getByTestId('attempt-caught')).toContainText('caught by @catch');
});

test('IncludeFile parameters show the included content: text as text, binary by size', async ({
  page,
  request,
}) => {
  const run = runPath('include');
  await page.goto(run);
  await expect(page.locator('.params-inline')).toContainText('blob=<1,024 bytes>');
  await expect(page.locator('.params-inline')).toContainText('héllo wörld');
  await expect(page.locator('.params-inline')).not.toContainText('not previewable');

  const [flow, runId] = (FIXTURES.include ?? '').split('/');
  const listed = await request.get(`api/v1/flows/${flow}/runs/${runId}/tasks?step_name=start`);
  const start = ((await listed.json()) as { items: { task_id: string }[] }).items[0];
  const task = `${run}/start/${start?.task_id}`;
  await page.goto(`${task}?section=artifacts&artifact=notes`);
  const notes = page.getByTestId('included-file');
  await expect(notes).toContainText('Included file · text');
  await expect(notes.locator('pre')).toHaveText('héllo wörld\nsecond line ✓\n');

  await page.goto(`${task}?section=artifacts&artifact=blob`);
  const blob = page.getByTestId('included-file');
  await expect(blob).toContainText('binary, 1.0 KiB');
  const href = await blob.getByRole('link', { name: 'Download' }).getAttribute('href');
  const body = await (await request.get(href ?? '')).body();
  expect(body.length).toBe(1024);
  expect([...body.subarray(0, 4)]).toEqual([0, 1, 2, 3]);
});

test('the Metadata tab lists each field Metaflow records twice only once', async ({
  page,
  request,
}) => {
  const [flow, runId] = (FIXTURES.linear ?? '').split('/');
  const listed = await request.get(`api/v1/flows/${flow}/runs/${runId}/tasks?step_name=start`);
  const start = ((await listed.json()) as { items: { task_id: string }[] }).items[0];
  await page.goto(`${runPath('linear')}/start/${start?.task_id}?section=metadata`);
  const fields = page.locator('.metadata tbody tr td:first-child');
  await expect(fields.first()).toBeVisible();
  const names = await fields.allTextContents();
  for (const f of [
    'git-info',
    'metaflow_version',
    'python_version',
    'runtime',
    'script-name',
    'user',
  ])
    expect(
      names.filter((n) => n === f),
      f,
    ).toHaveLength(1);
});

test('a completed run whose task failed under @catch says so, on its page and in the list', async ({
  page,
}) => {
  await page.goto(runPath('catch'));
  await expect(page.locator('.run-header .status-badge')).toHaveText('Completed');
  await expect(page.locator('.run-header').getByTestId('run-caught')).toHaveText(
    ', 1 failure caught',
  );

  const [flow, runId] = (FIXTURES.catch ?? '').split('/');
  await page.goto(`./?flow_id=${flow}`);
  const row = page.locator('.run-row', { hasText: runId ?? '' });
  await expect(row.getByTestId('run-caught')).toHaveText('1 failure caught');
  await expect(row).toHaveAttribute('data-status', 'completed');
});

test('a run with a damaged task file says how many tasks could not be read, and shows them all', async ({
  page,
}) => {
  // `unreadable` is a copy of `linear` whose middle task has a metadata record cut in half
  // (tests/e2e_server.py); the intact `linear` is the control.
  await page.goto(runPath('linear'));
  await expect(page.locator('.dag-node[data-step="middle"]')).toBeVisible();
  await expect(page.locator('.unreadable-notice')).toHaveCount(0);

  await page.goto(runPath('unreadable'));
  await expect(page.locator('.unreadable-notice')).toHaveText(
    '1 task could not be read: some of its files in the datastore are damaged or cannot be ' +
      'opened, so it is shown from what could be read.',
  );
  for (const step of ['start', 'middle', 'end'])
    await expect(page.locator(`.dag-node[data-step="${step}"]`)).toHaveClass(/status-completed/);

  await page.getByRole('tab', { name: 'Tasks' }).click();
  await expect(page.locator('.task-row .td:first-child')).toHaveText(['start', 'middle', 'end']);
});

// Last in this file, which runs last: it adds a SlowFlow run to the served runs.
test('the runs list shows the step a running run is at', async ({ page, request }) => {
  const { FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON, FLOWSCOPE_FLOW_ENV } = process.env;
  if (!FLOWSCOPE_SYSROOT || !FLOWSCOPE_PYTHON)
    throw new Error(
      'needs FLOWSCOPE_SYSROOT and FLOWSCOPE_PYTHON: run through tests/e2e_server.py',
    );
  test.setTimeout(120_000);
  const before = new Set((await runs(request, '&flow_id=SlowFlow')).map((r) => r.run_id));
  await page.goto('./?flow_id=SlowFlow');
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  const flow: ChildProcess = spawn(
    FLOWSCOPE_PYTHON,
    [`${repo}tests/live_flows/slow_flow.py`, '--no-pylint', 'run'],
    {
      cwd: FLOWSCOPE_SYSROOT,
      env: {
        ...process.env,
        ...JSON.parse(FLOWSCOPE_FLOW_ENV ?? '{}'),
        SLOW_FLOW_SLEEP_S: '1',
        SLOW_FLOW_WIDTH: '2',
      },
      detached: true,
      stdio: 'ignore',
    },
  );
  try {
    const fresh = page
      .locator('.run-row[data-status="running"]')
      .filter({ hasNot: page.locator(`.td-id:text-is("${[...before][0] ?? '-'}")`) })
      .first();
    await expect(fresh.getByTestId('run-current-steps')).toHaveText('running · at work', {
      timeout: 60_000,
    });
    const runId = (await fresh.locator('.td-id').textContent()) ?? '';
    expect(before.has(runId)).toBe(false);
    // Its page says it too, and once it is over neither does.
    await fresh.locator('.td-id a').click();
    await expect(page.locator('.run-header').getByTestId('run-current-steps')).toContainText(
      /at (work|join|end)/,
    );
    await expect(page.locator('.run-header .status-badge')).toHaveText('Completed', {
      timeout: 60_000,
    });
    await expect(page.locator('.run-header').getByTestId('run-current-steps')).toHaveCount(0);
  } finally {
    if (flow.pid !== undefined && flow.exitCode === null) {
      try {
        process.kill(-flow.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});
