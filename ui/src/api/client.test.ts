import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, loginUrl } from './client';

/** A page at `here` whose requests the server answers with `status`; where it was sent. */
function pageAnswered(status: number, here = '/LinearFlow/12?tab=tasks&step=middle') {
  const url = new URL(here, 'http://flowscope.test');
  const assigned: string[] = [];
  const location = {
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
    assign: (to: string) => assigned.push(to),
  };
  vi.stubGlobal('window', { location });
  const body = status === 401 ? { error: 'authentication required: …' } : { error: 'no such run' };
  vi.stubGlobal('fetch', async () => Response.json(body, { status }));
  return assigned;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('a refused session', () => {
  it('sends the page to the login page, which comes back to it', async () => {
    const assigned = pageAnswered(401);
    const refused = await api.run('LinearFlow', '12').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(401);
    expect(assigned).toEqual([
      `/login?next=${encodeURIComponent('/LinearFlow/12?tab=tasks&step=middle')}`,
    ]);
  });

  it('is the only error that leaves the page', async () => {
    for (const status of [403, 404, 500, 503]) {
      const assigned = pageAnswered(status);
      await expect(api.run('LinearFlow', '12')).rejects.toMatchObject({ status });
      expect(assigned).toEqual([]);
    }
  });

  it('names the login page under the base path, and the place to come back to whole', () => {
    const here = { pathname: '/flowscope/F/1/start/2', search: '?attempt=1', hash: '#L20' };
    expect(loginUrl(here, '/flowscope/')).toBe(
      '/flowscope/login?next=%2Fflowscope%2FF%2F1%2Fstart%2F2%3Fattempt%3D1%23L20',
    );
  });
});
