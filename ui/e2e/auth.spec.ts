import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';

// A second, token-protected `flowscope serve` over the same real runs that
// tests/e2e_server.py made (FLOWSCOPE_SYSROOT, FLOWSCOPE_PYTHON): a browser signs in
// through the login page, and the SPA and its event stream then work with the cookie alone.

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

test('signing in through the login page opens the runs list and its live stream', async ({
  page,
  context,
}) => {
  test.setTimeout(180_000);
  const python = process.env.FLOWSCOPE_PYTHON;
  const sysroot = process.env.FLOWSCOPE_SYSROOT;
  if (!python || !sysroot) throw new Error('run through tests/e2e_server.py (FLOWSCOPE_SYSROOT)');
  const token = `e2e-${randomBytes(16).toString('hex')}`;
  const port = await freePort();
  const scratch = mkdtempSync(join(tmpdir(), 'flowscope-auth-e2e-'));
  const url = `http://127.0.0.1:${port}`;
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

    await page.getByLabel('Access token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText('not right');
    expect(await context.cookies()).toEqual([]);

    await page.getByLabel('Access token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
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
