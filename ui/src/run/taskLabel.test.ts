import { describe, expect, it } from 'vitest';
import { taskLabel } from './taskLabel';

describe('taskLabel', () => {
  const gang = new Set(['train']);
  it('labels a gang by role', () => {
    expect(taskLabel({ step_name: 'train', task_id: '2', foreach_label: null }, gang)).toBe(
      'control · node 0',
    );
    expect(taskLabel({ step_name: 'train', task_id: '2_node_2', foreach_label: null }, gang)).toBe(
      'worker · node 2',
    );
  });
  it('keeps foreach labels and leaves other tasks alone', () => {
    expect(taskLabel({ step_name: 'a', task_id: '3', foreach_label: 'x[0]=1' }, gang)).toBe(
      'x[0]=1',
    );
    expect(taskLabel({ step_name: 'a', task_id: '3', foreach_label: null }, gang)).toBeNull();
  });
});
