import { describe, expect, it } from 'vitest';
import { clientSnippet, resumeCommand } from './snippets';

describe('snippets', () => {
  it('opens the run in any namespace', () => {
    expect(clientSnippet('F', '12')).toContain("Run('F/12')");
    expect(clientSnippet('F', '12')).toContain('namespace(None)');
  });
  it('resumes with the script name when known', () => {
    expect(resumeCommand('12', 'flow.py')).toBe('python flow.py resume --origin-run-id 12');
    expect(resumeCommand('12', null)).toBe('python <flow_file>.py resume --origin-run-id 12');
  });
});
