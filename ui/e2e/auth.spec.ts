import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Page, test } from '@playwright/test';
import { fixtureRun } from './support';

// A second, token-protected `flowscope serve` over the same real runs that
// tests/e2e_server.py made (FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON): a browser signs in
// through the login page, and the SPA and its event stream then work with the cookie alone;
// once the session is gone, the app sends the browser back to sign in.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, server: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`flowscope serve exited (${server.exitCode})`);
    try {
      const response = await fetch(`${url}/api/v1/health/ready`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`flowscope serve at ${url} was not ready within ${timeoutMs} ms`);
}

async function stop(server: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (server.exitCode !== null) return server.exitCode;
  const exited = new Promise<number | null>((resolve) =>
    server.once('exit', (code) => resolve(code)),
  );
  server.kill('SIGTERM');
  const timer = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), timeoutMs),
  );
  const result = await Promise.race([exited, timer]);
  if (result === 'timeout') {
    server.kill('SIGKILL');
    throw new Error('flowscope serve did not stop on SIGTERM');
  }
  return result;
}

/** Starts the token-protected server (not yet ready: see waitReady). */
async function startServer(token: string): Promise<{ url: string; server: ChildProcess }> {
  const python = process.env.FLOWSCOPE_PYTHON;
  const sysroot = process.env.FLOWSCOPE_SYSROOT;
  if (!python || !sysroot) throw new Error('run through tests/e2e_server.py (FLOWSCOPE_SYSROOT)');
  const port = await freePort();
  const scratch = mkdtempSync(join(tmpdir(), 'flowscope-auth-e2e-'));
  const server = spawn(
    python,
    [
      '-m',
      'flowscope.cli',
      'serve',
      '--root',
      sysroot,
      '--db',
      `sqlite:///${scratch}/index.sqlite`,
      '--port',
      String(port),
    ],
    {
      env: { ...process.env, FLOWSCOPE_AUTH_TOKEN: token },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  return { url: `http://127.0.0.1:${port}`, server };
}

async function signIn(page: Page, token: string) {
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('signing in through the login page opens the runs list and its live stream', async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  const token = `e2e-${randomBytes(16).toString('hex')}`;
  const { url, server } = await startServer(token);
  const foreign: string[] = [];
  page.on('request', (r) => {
    const target = new URL(r.url());
    if (/^(https?|wss?):$/.test(target.protocol) && target.origin !== url) foreign.push(r.url());
  });
  try {
    await waitReady(url, server, 120_000);

    // Without a session the app is not served; the browser lands on the login page.
    await page.goto(`${url}/?status=failed`);
    await expect(page).toHaveURL(`${url}/login?next=%2F%3Fstatus%3Dfailed`);
    await expect(page.getByRole('heading', { name: 'flowscope' })).toBeVisible();
    expect((await page.request.get(`${url}/api/v1/runs`)).status()).toBe(401);

    await signIn(page, 'not-the-token');
    await expect(page.getByRole('alert')).toContainText('not right');
    expect(await context.cookies()).toEqual([]);

    await signIn(page, token);
    await expect(page).toHaveURL(`${url}/?status=failed`);
    await expect(page.locator('.run-row').first()).toBeVisible();
    await expect(page.locator('.run-row:not([data-status="failed"])')).toHaveCount(0);
    // The header's indicator is "up" once the event stream (EventSource) is open.
    await expect(page.locator('.health[data-state="up"]')).toBeVisible();

    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([
      ['flowscope_session', true, 'Strict'],
    ]);
    expect(cookies[0]?.value).not.toContain(token);

    await page.goto(`${url}/logout`);
    await expect(page).toHaveURL(`${url}/login`);
    expect((await page.request.get(`${url}/api/v1/runs`)).status()).toBe(401);
    expect(foreign).toEqual([]);
  } finally {
    expect(await stop(server, 60_000)).toBe(0);
  }
});

test('a session that ends while the app is open sends the user to sign in, then back to the same page', async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  const linear = fixtureRun('linear');
  const runPage = `/${encodeURIComponent(linear.flow)}/${encodeURIComponent(linear.run)}`;
  const token = `e2e-${randomBytes(16).toString('hex')}`;
  const { url, server } = await startServer(token);
  try {
    await waitReady(url, server, 120_000);
    await page.goto(`${url}${runPage}`);
    // The header asks for the server's health every 15 s, and that request would find the
    // lost session as well: the session ends right after one, so that the request that
    // finds it is the one the navigation below makes.
    const health = page.waitForResponse((r) => r.url() === `${url}/api/v1/health` && r.ok());
    await signIn(page, token);
    await expect(page).toHaveURL(`${url}${runPage}`);
    await expect(page.locator('.dag-node[data-step="middle"]')).toBeVisible();
    await health;

    // As when the session expires or the server restarts with a new token: the browser's
    // cookie no longer opens the API, while the page stays loaded.
    await context.clearCookies();
    await page.getByRole('tab', { name: 'Tasks' }).click();
    const tasksPage = `${runPage}?tab=tasks`;
    await expect(page).toHaveURL(`${url}/login?next=${encodeURIComponent(tasksPage)}`);

    await signIn(page, token);
    await expect(page).toHaveURL(`${url}${tasksPage}`);
    await expect(page.locator('.task-row')).toHaveCount(3);
    await expect(page.locator('.health[data-state="up"]')).toBeVisible();
  } finally {
    expect(await stop(server, 60_000)).toBe(0);
  }
});
