// Every main page at phone, small-laptop, laptop and desktop widths, in both themes: a
// screenshot of each under test-output/screenshots/ (<page>-<width>-<theme>.png), and
// checks that nothing needed is cut off or out of reach (issue 11).
import type { Page } from '@playwright/test';
import { expect, mainPages, settled, shot, test } from './support';

const WIDTHS = [360, 800, 1280, 1920] as const;
const THEMES = ['light', 'dark'] as const;

/**
 * Why an element cannot be seen or reached, or null when it can: it has a size, and no
 * ancestor that hides overflow cuts it. An ancestor that scrolls makes it reachable on
 * that axis, so from there on that ancestor's own box is what must be in reach. Across,
 * everything must lie within the window; down, the page may scroll.
 */
async function problems(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((els) => {
    const name = (e: Element) =>
      `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${
        typeof e.className === 'string' && e.className.trim()
          ? `.${e.className.trim().split(/\s+/).join('.')}`
          : ''
      }`;
    const out: string[] = [];
    for (const el of els) {
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      if (el.closest('.sr-only')) continue; // for screen readers only, by design
      const r = el.getBoundingClientRect();
      const what = `${name(el)} "${(el.textContent ?? '').trim().slice(0, 30)}"`;
      const onlyForReaders = [...el.childNodes].every(
        (n) => (n instanceof Element && n.classList.contains('sr-only')) || !n.textContent?.trim(),
      );
      if (r.width < 1 || r.height < 1) {
        // A header cell that only names its column for screen readers has nothing to show.
        if (!onlyForReaders) out.push(`${what} has no size`);
        continue;
      }
      let x = { lo: r.left, hi: r.right };
      let y = { lo: r.top, hi: r.bottom };
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        const s = getComputedStyle(a);
        const ar = a.getBoundingClientRect();
        const inner = {
          x: { lo: ar.left + a.clientLeft, hi: ar.left + a.clientLeft + a.clientWidth },
          y: { lo: ar.top + a.clientTop, hi: ar.top + a.clientTop + a.clientHeight },
        };
        for (const axis of ['x', 'y'] as const) {
          const overflow = axis === 'x' ? s.overflowX : s.overflowY;
          if (overflow === 'visible') continue;
          const box = axis === 'x' ? x : y;
          if (overflow === 'auto' || overflow === 'scroll') {
            const own = { lo: Math.max(box.lo, ar[axis === 'x' ? 'left' : 'top']), hi: 0 };
            own.hi = ar[axis === 'x' ? 'right' : 'bottom'];
            if (axis === 'x') x = own;
            else y = own;
          } else if (box.lo < inner[axis].lo - 1 || box.hi > inner[axis].hi + 1) {
            out.push(`${what} is cut off (${axis}) by ${name(a)}`);
          }
        }
      }
      if (x.lo < -1 || x.hi > window.innerWidth + 1) out.push(`${what} is outside the window`);
    }
    return out;
  });
}

async function expectReachable(page: Page, label: string, selectors: string[]) {
  for (const sel of selectors) {
    const shown = page.locator(sel).filter({ visible: true }).first();
    await expect(shown, `${label}: ${sel} shown`).toBeVisible();
    expect(await problems(page, sel), `${label}: ${sel}`).toEqual([]);
  }
}

/** Neither the window nor the page's scroll box scrolls sideways. */
async function expectNoSidewaysScroll(page: Page, label: string) {
  const widths = await page.evaluate(() => {
    const main = document.querySelector('main.content');
    return {
      doc: document.documentElement.scrollWidth,
      win: window.innerWidth,
      main: main ? main.scrollWidth - main.clientWidth : 0,
    };
  });
  expect(widths.doc, `${label}: page wider than the window`).toBeLessThanOrEqual(widths.win);
  expect(widths.main, `${label}: main area scrolls sideways`).toBeLessThanOrEqual(1);
}

/** What each page must show in reach at any width, beyond the top bar. */
const NEEDED: Record<string, string[]> = {
  runs: [
    '.runs-table .th',
    '.run-row .td',
    '.run-row .status-icon',
    '.run-row .td-id',
    '.runs-main .search',
  ],
  flows: ['.flows-table .th', '.flow-row .td', '.flow-row .flow-name', '.strip-link'],
  'run-dag': ['.run-header .field', '.run-header .btn', '.tabs .tab', '.dag-node', '.legend'],
  'run-timeline': [
    '.tabs .tab',
    '.timeline-toolbar > *',
    '.status-toggles label',
    '[data-testid="timeline-canvas"]',
  ],
  'run-tasks': ['.tasks-tab .toolbar > *', '.tasks-table .th', '.task-row .td'],
  'run-failed': ['.exception-line', '.exception .btn', '.dag-node'],
  'task-logs': ['.run-header .field', '.section-bar .tab', '.log-toolbar > *', '.log-line'],
  'task-artifacts': ['.section-bar .tab', '.artifact-list tbody tr', '.artifact-panel'],
  'task-metadata': ['.metadata .toolbar > *', '.metadata th'],
  'task-cards': ['.section-bar .tab', '.card-meta', 'iframe.card-frame'],
};

/** The columns a table keeps at each width: what matters most survives the narrowest. */
const COLUMNS: Record<string, Record<number, RegExp>> = {
  runs: {
    360: /status.*flowRun.*duration/,
    800: /status flow run user started duration/,
    1280: /status statusLabel flow run user started finished duration tags/,
    1920: /status statusLabel flow run user started finished duration tags/,
  },
  'run-tasks': {
    360: /stepForeach task statusIcon duration/,
    800: /step task foreach status attempt duration/,
    1280: /step task foreach status attempt started duration/,
  },
  flows: {
    360: /flow stripShort success/,
    800: /flow strip success lastRun runs/,
    1280: /flow strip success median lastRun runs owners/,
  },
};

const TOP_BAR = ['.brand', '.topnav a', '.goto-input', '.health'];

test('every page at every width, in both themes', async ({ page, request }) => {
  test.setTimeout(240_000);
  for (const p of await mainPages(request)) {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(p.url);
    for (const theme of THEMES) {
      await page.emulateMedia({ colorScheme: theme });
      for (const width of WIDTHS) {
        const label = `${p.name} at ${width} px, ${theme}`;
        await page.setViewportSize({ width, height: width < 800 ? 760 : 900 });
        await settled(page, p);
        await shot(page, `${p.name}-${width}-${theme}`);
        await expectNoSidewaysScroll(page, label);
        await expectReachable(page, label, [...TOP_BAR, ...(NEEDED[p.name] ?? [])]);
        const columns = COLUMNS[p.name]?.[width];
        if (columns) {
          const table = page.locator('[data-columns]');
          await expect(table, label).toHaveAttribute('data-columns', columns);
        }
      }
    }
  }
});

test('narrow windows: the settings menu and the filters panel open in reach', async ({ page }) => {
  for (const width of [360, 800]) {
    await page.setViewportSize({ width, height: 760 });
    await page.goto('./');
    await expect(page.locator('.run-row').first()).toBeVisible();
    const label = `${width} px`;

    // The top bar's settings fold into a menu.
    const tools = page.locator('#topbar-tools');
    await expect(tools).toBeHidden();
    const menu = page.getByRole('button', { name: 'Settings and help' });
    await menu.click();
    await expect(menu).toHaveAttribute('aria-expanded', 'true');
    await expectReachable(page, `${label}, menu`, ['#topbar-tools button']);
    await shot(page, `menu-${width}-light`);
    await page.keyboard.press('Escape');
    await expect(tools).toBeHidden();
    await expect(menu).toBeFocused();

    // The filters leave the page and open over the list.
    await expect(page.locator('#run-filters')).toBeHidden();
    const toggle = page.getByRole('button', { name: /^Filters/ });
    await toggle.click();
    await expect(page.locator('#run-filters')).toBeVisible();
    await expectReachable(page, `${label}, filters`, [
      '#run-filters .status-choice',
      '#run-filters select',
      '#run-filters input:not(.sr-only)',
      '#run-filters button',
    ]);
    await shot(page, `filters-${width}-light`);
    await page.locator('#run-filters').getByText('Failed', { exact: true }).click();
    await expect(page).toHaveURL(/status=failed/);
    await expect(toggle).toHaveText('Filters (1)');
    await page.keyboard.press('Escape');
    await expect(page.locator('#run-filters')).toBeHidden();
    await expect(toggle).toBeFocused();
  }
  // Wide windows: both are part of the page, no button needed.
  await page.setViewportSize({ width: 1280, height: 900 });
  await expect(page.locator('#run-filters')).toBeVisible();
  await expect(page.getByRole('button', { name: /^Filters/ })).toBeHidden();
  await expect(page.getByRole('button', { name: 'Settings and help' })).toBeHidden();
  await expectReachable(page, '1280 px', ['#topbar-tools button', '#run-filters .status-choice']);
});

test('the reach check sees a column cut off by its table', async ({ page }) => {
  await page.setViewportSize({ width: 800, height: 760 });
  await page.goto('./');
  await expect(page.locator('.run-row').first()).toBeVisible();
  expect(await problems(page, '.runs-table .th')).toEqual([]);
  // The columns as they were before issue 11: 956 px of them in a box half as wide.
  await page.addStyleTag({
    content:
      '.runs-table .tr { grid-template-columns: 18px 140px 150px 80px 150px 150px 90px 100px !important }',
  });
  const cut = await problems(page, '.runs-table .th');
  expect(cut.join('\n')).toMatch(/cut off \(x\) by div\.table\.runs-table/);
});
