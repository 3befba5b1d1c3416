import { describe, expect, it } from 'vitest';
import { basePathFromUri, routerBasename } from './base';

describe('basePathFromUri', () => {
  it('reads the path of the base href', () => {
    expect(basePathFromUri('http://h:8000/')).toBe('/');
    expect(basePathFromUri('http://h/flowscope/')).toBe('/flowscope/');
  });
  it('treats a path without trailing slash as a file in its folder', () => {
    expect(basePathFromUri('http://h/flowscope/index.html')).toBe('/flowscope/');
    expect(basePathFromUri('http://h/flowscope')).toBe('/');
  });
  it('falls back to the root on garbage', () => {
    expect(basePathFromUri('not a url')).toBe('/');
  });
});

describe('routerBasename', () => {
  it('drops the trailing slash but keeps the root', () => {
    expect(routerBasename('/')).toBe('/');
    expect(routerBasename('/flowscope/')).toBe('/flowscope');
  });
});
