// What Metaflow records beyond statuses (issue 9), on the real fixture runs of
// tests/fixtures_runs.py: decorators, exceptions, configs, @parallel gangs, foreach paths,
// resume clones, where a run ran, triggers.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, fixtureRun, runs, stepTasks, test } from './support';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

test('decorators: the DAG details and the task page list each step’s decorators', async ({
  page,
  request,
}) => {
  const r = fixtureRun('timeout');
  await page.goto(`${r.flow}/${r.run}`);
  const slow = page.locator('.dag-detail[data-step="slow"]');
  await expect(slow.locator('[data-decorator="timeout"]')).toHaveText(
    '@timeout(seconds=2, minutes=0, hours=0)',
  );
  await expect(slow.locator('[data-decorator="retry"]')).toContainText('times=1');
  await expect(slow.locator('[data-decorator="catch"]')).toContainText('var=timed_out');
  const start = page.locator('.dag-detail[data-step="start"]');
  await expect(start.locator('[data-decorator="resources"]')).toContainText('memory=1024');
  await expect(start.locator('[data-decorator="environment"]')).toContainText('FLOWSCOPE_GREETING');
  await expect(start.locator('[data-decorator="card"]')).toBeVisible();

  const [task] = await stepTasks(request, r, 'slow');
  if (!task) throw new Error('no slow task');
  await page.goto(`${r.flow}/${r.run}/slow/${task.task_id}`);
  const decos = page.locator('.task-decorators');
  await expect(decos.locator('[data-decorator="timeout"]')).toContainText('seconds=2');
  await expect(decos.locator('[data-decorator="catch"]')).toBeVisible();
});

test('exceptions: each failed attempt shows its own, the user’s frames highlighted', async ({
  page,
  request,
}) => {
  const r = fixtureRun('timeout');
  const [task] = await stepTasks(request, r, 'slow');
  if (!task) throw new Error('no slow task');
  await page.goto(`${r.flow}/${r.run}/slow/${task.task_id}?attempt=0`);
  const panel = page.locator('section.exception');
  await expect(panel.locator('.exception-line')).toContainText(
    'metaflow.plugins.timeout_decorator.TimeoutException: Step slow timed out',
  );
  await expect(panel.locator('.exception-title')).toHaveText('Attempt 0');
  await expect(panel.locator('.exception-user')).toContainText('timeout_flow.py');
  await panel.getByRole('button', { name: 'Show traceback' }).click();
  await expect(panel.locator('.tb-user').first()).toContainText('timeout_flow.py');
  const library = panel.locator('.tb-library').first();
  await expect(library.locator('summary')).toContainText('library frame');
  // Collapsed: Metaflow's own frames are there but folded away.
  await expect(library).not.toHaveAttribute('open', '');

  await page.goto(`${r.flow}/${r.run}/slow/${task.task_id}?attempt=1`);
  await expect(panel.locator('.exception-title')).toHaveText('Attempt 1 · caught by @catch');
  await expect(panel.locator('.exception-line')).toContainText('TimeoutException');
});

test('configs: shown as configs, apart from the parameters', async ({ page }) => {
  const r = fixtureRun('config');
  await page.goto(`${r.flow}/${r.run}`);
  const configs = page.locator('.run-configs');
  await expect(configs.locator('tr[data-config="settings"]')).toContainText(
    "{'learning_rate': 0.1, 'layers': [64, 32]}",
  );
  await expect(page.locator('.params-inline')).toContainText('alpha=0.5');
  await expect(page.locator('.params-inline')).not.toContainText('settings');
});

test('@parallel: the gang size, the control task and the workers labelled', async ({ page }) => {
  const r = fixtureRun('parallel');
  await page.goto(`${r.flow}/${r.run}`);
  await expect(page.locator('.dag-detail[data-step="start"] .num-parallel')).toHaveText(
    'num_parallel=3',
  );
  await expect(page.locator('.dag-detail[data-step="train"]')).toContainText('@parallel');

  await page.goto(`${r.flow}/${r.run}?tab=tasks&step=train`);
  const rows = page.locator('.task-row');
  await expect(rows).toHaveCount(3);
  const labelOf = (id: string) =>
    rows.filter({ has: page.getByRole('link', { name: id, exact: true }) }).locator('.task-label');
  await expect(labelOf('2')).toHaveText('control · node 0');
  await expect(labelOf('2_node_1')).toHaveText('worker · node 1');
  await expect(labelOf('2_node_2')).toHaveText('worker · node 2');

  await page.goto(`${r.flow}/${r.run}/train/2_node_1`);
  await expect(page.locator('.task-gang')).toContainText('worker · node 1 of 3');
  await page.goto(`${r.flow}/${r.run}/train/2`);
  await expect(page.locator('.task-gang')).toContainText('control · node 0 of 3');
});

test('nested foreach: the full path labels a task, and the task list filters by it', async ({
  page,
  request,
}) => {
  const r = fixtureRun('nested_foreach');
  await page.goto(`${r.flow}/${r.run}?tab=tasks&step=inner`);
  const rows = page.locator('.task-row');
  await expect(rows).toHaveCount(4);
  await expect(rows.locator('.task-label')).toHaveText([
    /^letters\[\d\]=[ab] › numbers\[\d\]=[12]$/,
    /^letters\[\d\]=[ab] › numbers\[\d\]=[12]$/,
    /^letters\[\d\]=[ab] › numbers\[\d\]=[12]$/,
    /^letters\[\d\]=[ab] › numbers\[\d\]=[12]$/,
  ]);
  await page.getByLabel('Filter by foreach value').fill('=b');
  await page.getByLabel('Filter by foreach value').press('Enter');
  await expect(page).toHaveURL(/foreach=%3Db/);
  await expect(rows).toHaveCount(2);
  for (const label of await rows.locator('.task-label').allTextContents()) {
    expect(label).toMatch(/^letters\[1\]=b › numbers\[\d\]=[12]$/);
  }

  const [inner] = await stepTasks(request, r, 'inner');
  if (!inner) throw new Error('no inner task');
  const label = (inner as unknown as { foreach_label: string }).foreach_label;
  await page.goto(`${r.flow}/${r.run}/inner/${inner.task_id}`);
  await expect(page.locator('.run-header')).toContainText(label);
  expect(label).toContain(' › ');
});

test('resume: cloned tasks flagged on the DAG, the timeline and the task page, linked to their origin', async ({
  page,
  request,
}) => {
  const r = fixtureRun('resumed');
  const origin = fixtureRun('failing');
  await page.goto(`${r.flow}/${r.run}`);
  const note = page.getByTestId('clones-note');
  await expect(note).toContainText(`Resumed from run ${origin.run}`);
  await expect(note.locator('.cloned-step[data-step="start"]')).toContainText('start (1 task)');
  await expect(page.locator('.dag-node[data-step="start"]')).toHaveClass(/cloned/);
  await expect(page.locator('.dag-node[data-step="middle"]')).not.toHaveClass(/cloned/);

  await page.getByRole('tab', { name: 'Timeline' }).click();
  await expect(note).toContainText('start (1 task)');

  const [start] = await stepTasks(request, r, 'start');
  if (!start) throw new Error('no start task');
  await page.goto(`${r.flow}/${r.run}/start/${start.task_id}`);
  const link = page.locator('.task-origin a');
  await expect(link).toHaveText(new RegExp(`^${r.flow}/${origin.run}/start/\\d+$`));
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/${r.flow}/${origin.run}/start/\\d+`));
});

// The `argo` and `sfn` runs are real local runs carrying the tags and metadata the Argo
// Workflows / Kubernetes and Step Functions / Batch writers record (tests/fixtures_runs.py).
test('where it ran: scheduler badge and details, code, pods, Batch jobs and spot notices', async ({
  page,
  request,
}) => {
  const argo = fixtureRun('argo');
  await page.goto('./?flow_id=ScheduledFlow');
  const row = page.locator('.run-row').filter({ hasText: argo.run });
  await expect(row.locator('.scheduler-badge')).toHaveText('Argo Workflows');

  await page.goto(`${argo.flow}/${argo.run}`);
  const sched = page.locator('.run-scheduler');
  await expect(sched.locator('.scheduler-badge')).toHaveText('Argo Workflows');
  await expect(sched.locator('tr[data-field="argo-workflow-name"]')).toContainText(
    'scheduledflow-x7k2p',
  );
  await expect(sched.locator('tr[data-field="production token"]')).toContainText(
    'scheduledflow-0-abcd',
  );
  const code = page.locator('.run-code');
  await expect(code.locator('tr[data-field="code package sha"]')).toContainText('c0de5a1e');
  await expect(code.locator('tr[data-field="git branch_name"]')).toBeVisible();

  const [start] = await stepTasks(request, argo, 'start');
  if (!start) throw new Error('no start task');
  await page.goto(`${argo.flow}/${argo.run}/start/${start.task_id}`);
  const compute = page.locator('.task-compute');
  await expect(compute.locator('summary')).toContainText('Ran on Kubernetes');
  await expect(compute.locator('tr[data-field="kubernetes-pod-name"]')).toContainText(
    `scheduledflow-x7k2p-start-${start.task_id}`,
  );
  await expect(compute.locator('tr[data-field="kubernetes-pod-namespace"]')).toContainText(
    'mf-prod',
  );

  const sfn = fixtureRun('sfn');
  await page.goto(`${sfn.flow}/${sfn.run}`);
  await expect(page.locator('.run-scheduler .scheduler-badge')).toHaveText('Step Functions');
  const [end] = await stepTasks(request, sfn, 'end');
  if (!end) throw new Error('no end task');
  await page.goto(`${sfn.flow}/${sfn.run}/end/${end.task_id}`);
  await expect(compute.locator('summary')).toContainText('Ran on AWS Batch');
  await expect(compute.locator('.spot-warning')).toContainText('2026-12-01T10:00:00Z');
  await expect(compute.locator('tr[data-field="aws-batch-job-id"]')).toBeVisible();
  await expect(compute.locator('tr[data-field="aws-batch-awslogs-stream"]')).toContainText(
    `metaflow/default/${end.task_id}`,
  );
});

test('triggers: a run started by @trigger_on_finish names the event and links the run', async ({
  page,
}) => {
  const argo = fixtureRun('argo');
  const upstream = fixtureRun('parallel');
  await page.goto(`${argo.flow}/${argo.run}`);
  const trigger = page.locator('.run-triggers .trigger');
  await expect(trigger).toContainText('metaflow.ParallelFlow.end');
  const link = trigger.locator('a.trigger-run');
  await expect(link).toHaveText(`run ${upstream.flow}/${upstream.run}`);
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/${upstream.flow}/${upstream.run}$`));
  await expect(page.locator('.run-header')).toContainText(`${upstream.flow}/${upstream.run}`);
});

// Live card (issue 9): starts tests/live_flows/live_card_flow.py into the served datastore
// and watches its card update in place, without reloading the page or the card's frame.
test('live card: a card that refreshes updates on the open page, still sandboxed', async ({
  page,
  request,
}) => {
  const { FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON, FLOWSCOPE_FLOW_ENV } = process.env;
  test.skip(!FLOWSCOPE_SYSROOT || !FLOWSCOPE_PYTHON, 'needs python -m tests.e2e_server');
  if (!FLOWSCOPE_SYSROOT || !FLOWSCOPE_PYTHON) return;
  test.setTimeout(120_000);
  const extra: Record<string, string> = JSON.parse(FLOWSCOPE_FLOW_ENV ?? '{}');
  const before = new Set((await runs(request, '&flow_id=LiveCardFlow')).map((r) => r.run_id));
  const flow = spawn(
    FLOWSCOPE_PYTHON,
    [`${REPO}tests/live_flows/live_card_flow.py`, '--no-pylint', 'run'],
    {
      cwd: FLOWSCOPE_SYSROOT,
      env: { ...process.env, ...extra, LIVE_CARD_TICKS: '40', LIVE_CARD_SLEEP_S: '0.5' },
      detached: true,
      stdio: 'ignore',
    },
  );
  try {
    // The run, its start task and its card, as soon as flowscope has them.
    let runId = '';
    await expect
      .poll(
        async () => {
          const found = (await runs(request, '&flow_id=LiveCardFlow')).find(
            (r) => !before.has(r.run_id),
          );
          runId = found?.run_id ?? '';
          if (!runId) return 0;
          const res = await request.get(
            `api/v1/flows/LiveCardFlow/runs/${runId}/steps/start/tasks/1/cards`,
          );
          return res.ok() ? ((await res.json()) as { items: unknown[] }).items.length : 0;
        },
        { timeout: 60_000, message: 'the live card appears' },
      )
      .toBeGreaterThan(0);

    await page.goto(`LiveCardFlow/${runId}/start/1?section=cards`);
    await page.evaluate(() => {
      (window as unknown as { liveCardTest: boolean }).liveCardTest = true;
    });
    const frameEl = page.locator('iframe.card-frame');
    await expect(frameEl).toHaveAttribute('sandbox', 'allow-scripts');
    const card = page.frameLocator('iframe.card-frame');
    const heading = card.locator('h1');
    await expect(heading).toHaveText(/^tick \d+$/);
    // Marks the card's document: still there later means the frame was not reloaded.
    const frame = page.frames().find((f) => f.url().includes('/cards/'));
    if (!frame) throw new Error('no card frame');
    await frame.evaluate(() => {
      (window as unknown as { mark: boolean }).mark = true;
    });
    const first = (await heading.textContent()) ?? '';
    const shownAt = Date.now();
    await expect(heading).not.toHaveText(first, { timeout: 10_000 });
    console.log(
      `live card: "${first}" -> "${await heading.textContent()}" in ${Date.now() - shownAt} ms`,
    );
    const second = (await heading.textContent()) ?? '';
    await expect(heading).not.toHaveText(second, { timeout: 10_000 });
    expect(await frame.evaluate(() => (window as unknown as { mark?: boolean }).mark)).toBe(true);
    await expect(frameEl).toHaveAttribute('data-reloads', '0');

    // The task ends: the final render is loaded and shows the last tick.
    await expect(heading).toHaveText('tick 40', { timeout: 60_000 });
    expect(
      await page.evaluate(() => (window as unknown as { liveCardTest?: boolean }).liveCardTest),
    ).toBe(true);
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
