import { describe, expect, it } from 'vitest';
import { caughtText, runStatusText } from './Status';

describe('run status in words', () => {
  const run = { status: 'completed', status_reason: null, caught_count: 0, current_steps: [] };
  it('says what a completed run went on past', () => {
    expect(runStatusText(run)).toBe('Completed');
    expect(runStatusText({ ...run, caught_count: 20 })).toBe('Completed, 20 failures caught');
    expect(caughtText(1)).toBe('1 failure caught');
  });
  it('says where a running run is', () => {
    expect(runStatusText({ ...run, status: 'running', current_steps: ['train', 'score'] })).toBe(
      'Running, at train, score',
    );
    expect(runStatusText({ ...run, status: 'running' })).toBe('Running');
  });
  it('keeps the failure reason', () => {
    expect(runStatusText({ ...run, status: 'failed', status_reason: 'killed' })).toBe(
      'Failed (killed)',
    );
  });
});
