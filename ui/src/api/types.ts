// Temporary hand-written API types from docs/API.md, used until the server commits its
// OpenAPI spec and `npm run gen:api` writes schema.gen.ts. Delete once that exists.

export type RunStatus = 'running' | 'completed' | 'failed';
export type TaskStatus = 'pending' | 'running' | 'completed' | 'failed';
export type StatusReason = 'error' | 'killed' | 'lost';

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Run {
  flow_id: string;
  run_id: string;
  user: string | null;
  status: RunStatus;
  status_reason: StatusReason | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  tags: string[];
  system_tags: string[];
  project: string | null;
  branch: string | null;
  first_failure: { step_name: string; task_id: string } | null;
}

export interface RunDetail extends Run {
  parameters: Record<string, string>;
  origin_run_id: string | null;
  task_count: number;
}

export interface FlowSummary {
  flow_id: string;
  run_count: number;
  last_run: Run | null;
}

export interface DagStep {
  type: string;
  next: string[];
  doc: string | null;
  foreach_artifact: string | null;
  matching_join: string | null;
}

export interface Dag {
  steps: Record<string, DagStep>;
  structure: unknown;
  start_step: string;
  end_step: string;
}

export interface TaskCounts {
  pending: number;
  running: number;
  completed: number;
  failed: number;
}

export interface StepSummary {
  step_name: string;
  type: string;
  status: TaskStatus;
  started_at: number | null;
  finished_at: number | null;
  task_counts: TaskCounts;
}

export interface Task {
  flow_id: string;
  run_id: string;
  step_name: string;
  task_id: string;
  status: TaskStatus;
  status_reason: StatusReason | null;
  caught: boolean;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  foreach_label: string | null;
}

export interface Attempt {
  attempt: number;
  status: TaskStatus;
  status_reason: StatusReason | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface MetadataEntry {
  field_name: string;
  value: string;
  type: string;
  attempt: number | null;
  ts_epoch: number | null;
}

export interface TaskException {
  type: string;
  message: string;
  traceback: string;
}

export interface TaskDetail extends Task {
  attempts: Attempt[];
  metadata: MetadataEntry[];
  exception: TaskException | null;
}

export interface Timeline {
  steps: string[];
  tasks: {
    step: number[];
    task_id: string[];
    foreach_label: (string | null)[];
    status: string[];
  };
  attempts: {
    task: number[];
    attempt: number[];
    status: string[];
    started_at: (number | null)[];
    finished_at: (number | null)[];
  };
}

export interface ArtifactSummary {
  name: string;
  type: string;
  size: number | null;
  sha: string;
}

export interface TablePreview {
  columns: string[];
  rows: unknown[][];
  total_rows: number;
}

export interface ArtifactDetail {
  name: string;
  type: string;
  size: number | null;
  previewable: boolean;
  preview: string | null;
  preview_kind: 'repr' | 'json' | 'table' | null;
  preview_data: unknown;
  load_snippet: string;
}

export interface LogLine {
  n: number;
  ts: number | null;
  text: string;
}

export interface LogPage {
  items: LogLine[];
  total: number;
  start: number;
  next_cursor: number | null;
}

export interface LogSearch {
  items: { n: number; text: string }[];
  total_matches: number;
}

export interface Card {
  id: string;
  type: string;
  url: string;
}

export interface Health {
  status: string;
  ready: boolean;
}
