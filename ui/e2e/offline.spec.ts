// Offline (issue 11): the API reference at /api/v1/docs is Swagger UI from the UI build,
// not from a CDN. Every test fails on a request to another origin (support.ts); this one
// also checks that the page really draws the API, from files the server sent.
import { expect, shot, test } from './support';

test('the API reference renders with every request going to the server', async ({
  page,
  baseURL,
}) => {
  const server = new URL(baseURL ?? '').origin;
  const requested: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  await page.goto('./api/v1/docs');
  await expect(page.locator('.swagger-ui .info .title')).toContainText('flowscope');
  // The operations are listed, read from the app's own spec.
  const runs = page.locator('.opblock-summary-path', { hasText: /^\/api\/v1\/runs$/ });
  await expect(runs.first()).toBeVisible();
  await runs.first().click();
  await expect(page.locator('.opblock-body').first()).toBeVisible();
  await shot(page, 'api-docs');
  expect(requested.some((u) => u.endsWith('/api/v1/openapi.json'))).toBe(true);
  expect(requested.some((u) => /\/assets\/api-docs-[\w-]+\.js$/.test(u))).toBe(true);
  expect(requested.filter((u) => !u.startsWith(server) && /^https?:/.test(u))).toEqual([]);
});
