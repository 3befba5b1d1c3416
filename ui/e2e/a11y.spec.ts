// Accessibility (issue 11): axe-core audits every main page in both themes (and the
// panels and dialogs that open over them), and the main paths work from the keyboard
// alone, with a visible focus ring on everything that takes focus.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, failedRun, foreachRun, mainPages, settled, test } from './support';

const enc = encodeURIComponent;

// The themes differ only in colours (theme.css), so the full audit runs in the light
// theme and the dark one gets the rules about colour: the same checks, in less time.
const COLOUR_RULES = ['color-contrast', 'link-in-text-block'];

/** axe's serious and critical findings, one line each. */
async function audit(page: Page, theme: 'light' | 'dark' = 'light'): Promise<string[]> {
  let axe = new AxeBuilder({ page })
    // A card is the user's own HTML (Metaflow's card templates), not flowscope's page.
    .exclude('iframe.card-frame');
  axe =
    theme === 'dark'
      ? axe.withRules(COLOUR_RULES)
      : axe.withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']);
  const results = await axe.analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes
          .slice(0, 4)
          .map((n) => n.target.join(' '))
          .join(', ')}`,
    );
}

test('axe: no serious or critical violation on any main page, light or dark', async ({
  page,
  request,
}) => {
  test.setTimeout(180_000);
  for (const p of await mainPages(request)) {
    await page.goto(p.url);
    for (const theme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: theme });
      await settled(page, p);
      expect(await audit(page, theme), `${p.name}, ${theme}`).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }
});

test('axe: panels, dialogs and narrow layouts too', async ({ page, request }) => {
  test.setTimeout(120_000);
  const failed = await failedRun(request);
  for (const theme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: theme });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`./${enc(failed.flow)}/${enc(failed.run)}`);
    await page.getByRole('button', { name: 'Show traceback' }).click();
    await expect(page.locator('.traceback')).toBeVisible();
    expect(await audit(page, theme), `traceback open, ${theme}`).toEqual([]);
    await page.keyboard.press('?');
    await expect(page.getByRole('dialog')).toBeVisible();
    expect(await audit(page, theme), `shortcuts dialog, ${theme}`).toEqual([]);
    await page.keyboard.press('Escape');

    await page.setViewportSize({ width: 360, height: 760 });
    await page.goto('./');
    await expect(page.locator('.run-row').first()).toBeVisible();
    expect(await audit(page, theme), `runs at 360 px, ${theme}`).toEqual([]);
    await page.getByRole('button', { name: 'Settings and help' }).click();
    expect(await audit(page, theme), `settings menu, ${theme}`).toEqual([]);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: /^Filters/ }).click();
    await expect(page.locator('#run-filters')).toBeVisible();
    expect(await audit(page, theme), `filters panel, ${theme}`).toEqual([]);
    await page.keyboard.press('Escape');
  }
});

/** The focused element, and whether a focus ring shows around it. */
async function focusRing(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    // An SVG step of the DAG draws its own ring (a .focus-ring shape shown on focus).
    const drawn = el.querySelector(':scope > .focus-ring');
    const ring =
      (s.outlineStyle !== 'none' && Number.parseFloat(s.outlineWidth) >= 2) ||
      (s.boxShadow !== 'none' && s.boxShadow !== '') ||
      (drawn !== null && getComputedStyle(drawn).display !== 'none');
    return {
      what: `${el.tagName.toLowerCase()} "${(el.textContent ?? el.getAttribute('aria-label') ?? '').trim().slice(0, 30)}"`,
      ring,
      onScreen: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
    };
  });
}

/** Tabs through a page: every stop shows a focus ring and is on screen. */
async function tabThrough(page: Page, stops: number) {
  const seen: string[] = [];
  for (let i = 0; i < stops; i++) {
    await page.keyboard.press('Tab');
    const f = await focusRing(page);
    if (!f) continue;
    seen.push(f.what);
    expect(f.ring, `focus ring on ${f.what}`).toBe(true);
    expect(f.onScreen, `${f.what} scrolled into view`).toBe(true);
  }
  return seen;
}

test('keyboard: focus is always visible while tabbing through the main pages', async ({
  page,
  request,
}) => {
  test.setTimeout(120_000);
  const pages = await mainPages(request);
  for (const name of ['runs', 'flows', 'run-failed', 'run-tasks', 'task-logs', 'task-artifacts']) {
    const p = pages.find((x) => x.name === name);
    if (!p) continue;
    await page.goto(p.url);
    await settled(page, p);
    const seen = await tabThrough(page, 30);
    expect(seen.length, `${name}: something takes focus`).toBeGreaterThan(10);
  }
});

test('keyboard: from the runs list to a task and back, without a mouse', async ({
  page,
  request,
}) => {
  const r = await foreachRun(request);
  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();

  // The first stop skips the top bar.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to content' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();

  // Search for the run, Tab to its link, open it.
  await page.keyboard.press('/');
  await page.keyboard.type(r.run);
  await page.keyboard.press('Enter');
  await expect(page.locator('.run-row')).toHaveCount(1);
  const link = page.locator('.run-row .td-id a');
  for (let i = 0; i < 40 && !(await link.evaluate((el) => el === document.activeElement)); i++)
    await page.keyboard.press('Tab');
  await expect(link).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('.run-header')).toContainText(r.run);

  // Tabs: arrows move between them; a DAG step opens with Enter.
  const dagTab = page.getByRole('tab', { name: 'DAG' });
  await dagTab.focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Timeline' })).toBeFocused();
  await expect(page).toHaveURL(/tab=timeline/);
  await page.keyboard.press('ArrowLeft');
  await expect(page).not.toHaveURL(/tab=/);
  // Arrows pressed faster than the page redraws: each one moves on from the tab the last
  // one focused. Sent from inside the page, all three arrive before any redraw can.
  await page.evaluate(() => {
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowLeft'])
      document.activeElement?.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
  });
  await expect(page.getByRole('tab', { name: 'Timeline' })).toBeFocused();
  await expect(page).toHaveURL(/tab=timeline/);
  await dagTab.focus();
  await page.keyboard.press('Enter');
  await expect(page).not.toHaveURL(/tab=/);
  const node = page.locator(`.dag-node[data-step="${r.step}"]`);
  await node.focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(new RegExp(`tab=tasks.*step=${r.step}`));

  // j selects the first task, Enter opens it.
  await expect(page.locator('.task-row').first()).toBeVisible();
  await page.locator('main').focus();
  await page.keyboard.press('j');
  await expect(page.locator('.task-row.selected')).toHaveCount(1);
  await page.keyboard.press('Enter');
  await expect(page.locator('.page-task .log-view').first()).toBeVisible();

  // Enter on a focused button belongs to the button, not to the list's selection.
  await page.goBack();
  await expect(page.locator('.task-row').first()).toBeVisible();
  await page.locator('main').focus();
  await page.keyboard.press('j');
  const timelineTab = page.getByRole('tab', { name: 'Timeline' });
  await timelineTab.focus();
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/tab=timeline/);
});

test('keyboard: the failure banner, the settings menu and the filters panel', async ({
  page,
  request,
}) => {
  const failed = await failedRun(request);
  await page.goto(`./${enc(failed.flow)}/${enc(failed.run)}`);
  const show = page.getByRole('button', { name: 'Show traceback' });
  await show.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Hide traceback' })).toHaveAttribute(
    'aria-expanded',
    'true',
  );
  const tb = page.locator('.traceback');
  await expect(tb).toBeVisible();
  // It opens at its first line.
  expect(await tb.evaluate((el) => el.scrollTop)).toBe(0);
  await expect(tb).toContainText(/^Traceback \(most recent call last\)/);

  await page.setViewportSize({ width: 800, height: 760 });
  const menu = page.getByRole('button', { name: 'Settings and help' });
  await menu.focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Tab'); // Local
  await page.keyboard.press('Tab'); // UTC
  await page.keyboard.press('Tab'); // Auto
  await page.keyboard.press('Tab'); // Light
  await page.keyboard.press('Tab'); // Dark
  await expect(page.locator('#topbar-tools').getByRole('button', { name: 'Dark' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.keyboard.press('Escape');
  await expect(menu).toBeFocused();
  await expect(page.locator('#topbar-tools')).toBeHidden();
  await page.keyboard.press('t'); // dark -> auto
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);

  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  const toggle = page.getByRole('button', { name: /^Filters/ });
  await toggle.focus();
  await page.keyboard.press('Enter');
  // The panel takes focus on its first control; arrows choose a status.
  await expect(page.locator('#run-filters button').first()).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.locator('#run-filters input[type="radio"]').first()).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(page).toHaveURL(/status=running/);
  await page.keyboard.press('Escape');
  await expect(toggle).toBeFocused();
  await expect(toggle).toHaveText('Filters (1)');
});
