// What Metaflow records beyond statuses (issue 9), on the real fixture runs of
// tests/fixtures_runs.py: decorators, exceptions, configs, @parallel gangs, foreach paths,
// resume clones, where a run ran, triggers.
import { expect, fixtureRun, stepTasks, test } from './support';

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
