import { describe, expect, it } from 'vitest';
import { innermostFrame, tracebackParts } from './traceback';

const TB = `Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/metaflow/task.py", line 113, in _exec_step_function
    step_function()
  File "/home/ann/flows/failing_flow.py", line 27, in middle
    raise RuntimeError("middle step failed on purpose")
RuntimeError: middle step failed on purpose`;

describe('innermostFrame', () => {
  it("finds where the exception was raised: the last frame, the step's own code", () => {
    expect(innermostFrame(TB)).toEqual({
      path: '/home/ann/flows/failing_flow.py',
      file: 'failing_flow.py',
      line: 27,
      fn: 'middle',
    });
  });
  it('has nothing to say without frames', () => {
    expect(innermostFrame('')).toBeNull();
    expect(innermostFrame(null)).toBeNull();
    expect(innermostFrame('KeyError: x')).toBeNull();
  });
  it('reads Windows paths', () => {
    expect(innermostFrame('  File "C:\\\\work\\\\f.py", line 3, in start')?.file).toBe('f.py');
  });
});

describe('tracebackParts', () => {
  it('keeps user frames apart and groups library frames', () => {
    const tb = [
      'Traceback (most recent call last):',
      '  File "/venv/lib/python3.11/site-packages/metaflow/task.py", line 938, in run_step',
      '    self._exec_step_function(step_func, orig_step_func)',
      '  File "/venv/lib/python3.11/site-packages/metaflow/task.py", line 113, in _exec',
      '    step_function()',
      '  File "/home/me/flow.py", line 37, in slow',
      '    sleep_past()',
      '  File "/venv/lib/python3.11/site-packages/metaflow/plugins/timeout_decorator.py", line 95, in h',
      '    raise TimeoutException(',
      'metaflow.plugins.timeout_decorator.TimeoutException: Step slow timed out',
    ].join('\n');
    const parts = tracebackParts(tb);
    expect(parts.map((p) => [p.kind, p.lines.length])).toEqual([
      ['text', 1],
      ['library', 4],
      ['user', 2],
      ['library', 2],
      ['text', 1],
    ]);
  });
});
