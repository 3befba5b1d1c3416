import {
  cardTask,
  expect,
  failedRun,
  foreachRun,
  retriedTask,
  runs,
  shot,
  taskWithLog,
  test,
} from './support';

const enc = encodeURIComponent;

test('runs page lists runs; status filter and search narrow them', async ({ page, request }) => {
  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  await shot(page, 'runs');

  await page.locator('.status-filter').getByText('Failed', { exact: true }).click();
  await expect(page).toHaveURL(/status=failed/);
  await expect(page.locator('.run-row').first()).toBeVisible();
  await expect(page.locator('.run-row:not([data-status="failed"])')).toHaveCount(0);

  const failed = await failedRun(request);
  await page.getByLabel('Search runs').fill(failed.run);
  await page.getByLabel('Search runs').press('Enter');
  await expect(page).toHaveURL(new RegExp(`q=${failed.run}`));
  await expect(page.locator('.run-row')).toHaveCount(1);
  await expect(page.locator('.run-row .td-id')).toHaveText(failed.run);

  await page.getByRole('button', { name: 'Reset filters' }).click();
  await expect(page.locator('.run-row:not([data-status="failed"])').first()).toBeVisible();
});

test('runs page groups by flow and opens a run on click', async ({ page, request }) => {
  const all = await runs(request);
  const flows = new Set(all.map((r) => r.flow_id));
  await page.goto('./?group=flow');
  const firstGroup = page.locator('.group-row .group-key').first();
  await expect(firstGroup).toBeVisible();
  expect(flows.has((await firstGroup.textContent()) ?? '')).toBe(true);
  // Collapsing a group hides its runs: the first run row is then another group's (the
  // table is virtualised, so counting rows would only count what fits on screen).
  const firstRun = await page.locator('.run-row').first().textContent();
  await page.locator('.group-toggle').first().click();
  await expect(page.locator('.group-toggle').first()).toHaveAttribute('aria-expanded', 'false');
  await expect(page.locator('.run-row').first()).not.toHaveText(firstRun ?? '');
  await page.locator('.group-toggle').first().click();
  await page.locator('.run-row').first().click();
  await expect(page.locator('.run-header')).toBeVisible();
  await expect(page.locator('.breadcrumbs')).toContainText('Runs');
});

test('flows page shows each flow with its recent runs', async ({ page, request }) => {
  const all = await runs(request);
  await page.goto('./flows');
  const first = all[0];
  if (!first) throw new Error('no runs');
  await expect(page.locator('.flow-row', { hasText: first.flow_id }).first()).toBeVisible();
  await expect(page.locator('.strip-cell').first()).toBeVisible();
  await shot(page, 'flows');
});

test('run page: DAG, tabs, and a DAG step opens its tasks', async ({ page, request }) => {
  const r = await foreachRun(request);
  await page.goto(`./${enc(r.flow)}/${enc(r.run)}`);
  await expect(page.locator('.run-header')).toContainText(r.run);
  const node = page.locator(`.dag-node[data-step="${r.step}"]`);
  await expect(node).toBeVisible();
  await expect(node).toContainText('done');
  await shot(page, 'run-dag');

  await node.click();
  await expect(page).toHaveURL(new RegExp(`tab=tasks.*step=${r.step}`));
  const rows = page.locator('.task-row');
  await expect(rows.first()).toBeVisible();
  const n = await rows.count();
  expect(n).toBeGreaterThan(1);
  for (let i = 0; i < n; i++) await expect(rows.nth(i)).toContainText(r.step);
  await shot(page, 'run-tasks');

  await page.getByRole('tab', { name: 'Timeline' }).click();
  await expect(page).toHaveURL(/tab=timeline/);
  await expect(page.getByTestId('timeline-canvas')).toBeVisible();
  await shot(page, 'run-timeline');
});

test('timeline: hovering a bar shows its card, clicking it opens the task', async ({
  page,
  request,
}) => {
  const r = await foreachRun(request);
  await page.goto(`./${enc(r.flow)}/${enc(r.run)}?tab=timeline`);
  const canvas = page.getByTestId('timeline-canvas');
  await expect(canvas).toBeVisible();
  const box = await canvas.boundingBox();
  if (!box) throw new Error('no canvas box');
  // Row 1 is the first task of the first step (row 0 is the step's header): 26 px axis,
  // 26 px density lane, 22 px rows, bars right of the 280 px label gutter. Sweep along it.
  const y = box.y + 26 + 26 + 22 + 11;
  let found = false;
  for (let x = box.x + 282; x < box.x + box.width - 2; x += 3) {
    await page.mouse.move(x, y);
    if (await page.locator('.hover-card').isVisible()) {
      found = true;
      break;
    }
  }
  expect(found, 'a bar in the first task row').toBe(true);
  await expect(page.locator('.hover-card')).toContainText('attempt 0');
  await page.mouse.down();
  await page.mouse.up();
  await expect(page).toHaveURL(new RegExp(`/${r.flow}/${r.run}/[^/]+/[^/?]+\\?attempt=0`));
  await expect(page.locator('.page-task')).toBeVisible();
});

test('a failed run opens on its first failure with the traceback', async ({ page, request }) => {
  const r = await failedRun(request);
  await page.goto(`./${enc(r.flow)}/${enc(r.run)}`);
  await expect(page.locator('.run-header')).toContainText('Failed');
  const failure = page.locator('.exception');
  await expect(failure).toContainText('First failure');
  // One line until asked for more: the exception and where it was raised.
  await expect(failure.locator('.exception-line')).toContainText('Error');
  await expect(failure.locator('.exception-where')).toContainText(/raised at \S+\.py, line \d+/);
  await expect(failure.locator('.traceback')).toHaveCount(0);
  await failure.getByRole('button', { name: 'Show traceback' }).click();
  await expect(failure.locator('.traceback')).toContainText('Traceback');
  await expect(page.locator('.dag-node.first-failure')).toBeVisible();
  await shot(page, 'run-failed');
  await failure.getByRole('link', { name: 'Open failing task' }).click();
  await expect(page.locator('.page-task .exception')).toBeVisible();
});

test('task page: a log line with its number, and server-side search', async ({ page, request }) => {
  const r = await foreachRun(request);
  const t = await taskWithLog(request, r);
  await page.goto(`./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}`);
  const stdout = page.locator('.log-view[data-stream="stdout"]');
  const line = stdout.locator('.log-line', { hasText: t.word }).first();
  await expect(line).toBeVisible();
  await expect(line.locator('.ln')).toHaveText(/^\d+$/);
  await shot(page, 'task');

  await stdout.getByLabel('Search stdout').fill(t.word);
  await stdout.getByLabel('Search stdout').press('Enter');
  await expect(stdout.locator('.match-count')).toHaveText(/^1 \/ \d+/);
  await expect(stdout.locator('.log-line.current-match mark').first()).toHaveText(
    new RegExp(t.word, 'i'),
  );
  await stdout.getByLabel('Search stdout').fill('no-such-text-in-any-log-xyz');
  await stdout.getByLabel('Search stdout').press('Enter');
  await expect(stdout.locator('.match-count')).toHaveText('no matches');
  const download = stdout.getByRole('link', { name: 'Download' });
  await expect(download).toHaveAttribute('href', /logs\/stdout\/download\?attempt=\d+/);
});

test('task page: artifacts preview and metadata', async ({ page, request }) => {
  const r = await foreachRun(request);
  const t = await taskWithLog(request, r);
  await page.goto(
    `./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}?section=artifacts`,
  );
  const panel = page.locator('.artifact-panel');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.load-snippet')).toContainText('Task(');
  await shot(page, 'task-artifacts');
  await page.getByRole('tab', { name: 'Metadata' }).click();
  await expect(page.locator('.metadata tbody tr').first()).toBeVisible();
});

test('task page: retried task shows one tab per attempt', async ({ page, request }) => {
  const t = await retriedTask(request);
  test.skip(t === null, 'no retried task among the runs');
  if (!t) return;
  await page.goto(`./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}`);
  const tabs = page.locator('.attempt-tabs .tab');
  await expect(tabs).toHaveCount(t.attempt + 1);
  await tabs.first().click();
  await expect(page).toHaveURL(/attempt=0/);
  await expect(page.locator('.run-header')).toContainText('Failed');
});

test('task page: a card opens in a sandboxed frame', async ({ page, request }) => {
  const t = await cardTask(request);
  test.skip(t === null, 'no task with a card among the runs');
  if (!t) return;
  await page.goto(
    `./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}?section=cards`,
  );
  const frame = page.locator('iframe.card-frame');
  await expect(frame).toHaveAttribute('sandbox', 'allow-scripts');
  await expect(frame.contentFrame().locator('body')).not.toBeEmpty();
  await shot(page, 'task-cards');
});

test('the go-to box opens a pasted pathspec', async ({ page, request }) => {
  const r = await foreachRun(request);
  const t = await taskWithLog(request, r);
  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  await page.keyboard.press('g');
  const box = page.getByLabel('Go to pathspec');
  await expect(box).toBeFocused();
  await box.fill(`${t.flow}/${t.run}/${t.step_name}/${t.task_id}`);
  await box.press('Enter');
  await expect(page).toHaveURL(new RegExp(`/${t.flow}/${t.run}/${t.step_name}/${t.task_id}$`));
  await expect(page.locator('.breadcrumbs')).toContainText(t.task_id);
  await box.fill('not a pathspec!');
  await box.press('Enter');
  await expect(page.locator('.goto-error')).toBeVisible();
});

test('shortcuts, dark theme and UTC times', async ({ page }) => {
  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog')).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toBeHidden();
  await page.keyboard.press('/');
  await expect(page.getByLabel('Search runs')).toBeFocused();
  await page.keyboard.press('Escape');

  await page.keyboard.press('j');
  await expect(page.locator('.run-row.selected')).toHaveCount(1);
  await page.keyboard.press('Enter');
  await expect(page.locator('.run-header')).toBeVisible();
  await page.goBack();
  await expect(page.locator('.run-row').first()).toBeVisible();

  await page.getByRole('button', { name: 'UTC' }).click();
  await expect(page.locator('.run-row .td-time time').first()).toHaveText(/Z$/);
  const theme = page.getByRole('group', { name: /^Theme/ });
  await theme.getByRole('button', { name: 'Dark' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(theme.getByRole('button', { name: 'Dark' })).toHaveAttribute('aria-pressed', 'true');
  await shot(page, 'runs-dark');
  await theme.getByRole('button', { name: 'Auto' }).click();
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
  await page.getByRole('button', { name: 'Local' }).click();
});

test.describe('errors', () => {
  test.use({ allowedConsoleErrors: [/status of 404/] });
  test('an unknown run says what to do', async ({ page }) => {
    await page.goto('./NoSuchFlow/123');
    await expect(page.locator('.state-error')).toContainText('Check the pathspec');
  });
});

test.describe('datastore errors', () => {
  test.use({ allowedConsoleErrors: [/status of 503/] });
  test('task page: an unreachable datastore is said where the log and artifacts would be', async ({
    page,
    request,
  }) => {
    // The e2e server's runs are on local disk, so the server's 503 (S3 unreachable; tested
    // for real in tests/datastore/test_api.py) is played here by answering those requests
    // with the same status and body shape the server sends.
    const r = await foreachRun(request);
    const t = await taskWithLog(request, r);
    const error = 's3://team-bucket/metaflow cannot be reached: Could not connect';
    await page.route(/\/(logs\/stdout|artifacts)(\?|$)/, (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error }),
      }),
    );
    await page.goto(`./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}`);
    const stdout = page.locator('.log-view[data-stream="stdout"]');
    await expect(stdout.getByRole('alert')).toContainText(error);
    await expect(stdout.getByRole('alert')).toContainText('still shown from the index');
    await page.goto(
      `./${enc(t.flow)}/${enc(t.run)}/${enc(t.step_name)}/${enc(t.task_id)}?section=artifacts`,
    );
    await expect(page.getByRole('alert').first()).toContainText(error);
  });
});
