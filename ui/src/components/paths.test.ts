import { describe, expect, it } from 'vitest';
import { parsePathspec, pathspecUrl, runUrl, taskUrl } from './paths';

describe('parsePathspec', () => {
  it('reads full and partial pathspecs', () => {
    expect(parsePathspec('HelloFlow/12/start/3')).toEqual({
      flow: 'HelloFlow',
      run: '12',
      step: 'start',
      task: '3',
    });
    expect(parsePathspec(' HelloFlow/12 ')).toEqual({ flow: 'HelloFlow', run: '12' });
    expect(parsePathspec('HelloFlow')).toEqual({ flow: 'HelloFlow' });
  });
  it('unwraps client snippets and URLs', () => {
    expect(parsePathspec("Run('HelloFlow/12')")).toEqual({ flow: 'HelloFlow', run: '12' });
    expect(parsePathspec('Task("F/1/a/2")')).toEqual({ flow: 'F', run: '1', step: 'a', task: '2' });
    expect(parsePathspec('http://localhost:8000/HelloFlow/12/')).toEqual({
      flow: 'HelloFlow',
      run: '12',
    });
  });
  it('rejects garbage', () => {
    expect(parsePathspec('')).toBeNull();
    expect(parsePathspec('a/b/c/d/e')).toBeNull();
    expect(parsePathspec('not a flow/1')).toBeNull();
  });
});

describe('pathspecUrl', () => {
  it('maps each depth to a page', () => {
    expect(pathspecUrl({ flow: 'F' })).toBe('/?flow_id=F');
    expect(pathspecUrl({ flow: 'F', run: '1' })).toBe('/F/1');
    expect(pathspecUrl({ flow: 'F', run: '1', step: 'a' })).toBe('/F/1?tab=tasks&step=a');
    expect(pathspecUrl({ flow: 'F', run: '1', step: 'a', task: '2' })).toBe('/F/1/a/2');
  });
  it('encodes segments', () => {
    expect(runUrl('F', 'argo-x/y')).toBe('/F/argo-x%2Fy');
    expect(taskUrl('F', '1', 's', '2', 1)).toBe('/F/1/s/2?attempt=1');
  });
});
