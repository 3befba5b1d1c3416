// Names for the API's types, all generated from the server's OpenAPI spec
// (`npm run gen:api` writes schema.gen.ts); nothing here is written by hand.
import type { components, paths } from './schema.gen';

type S = components['schemas'];

export type Run = S['Run'];
export type RunDetail = S['RunDetail'];
export type RunStatus = Run['status'];
export type StatusReason = NonNullable<Run['status_reason']>;
export type FlowSummary = S['Flow'];
export type Dag = S['Dag'];
export type DagStep = S['DagStep'];
export type StepDecorator = S['StepDecorator'];
export type StepSummary = S['Step'];
export type TaskCounts = S['TaskCounts'];
export type Task = S['Task'];
export type TaskStatus = Task['status'];
export type TaskDetail = S['TaskDetail'];
export type Attempt = S['Attempt'];
export type MetadataEntry = S['MetadataItem'];
export type TaskException = S['TaskException'];
export type Timeline = S['Timeline'];
export type TimelineDetail = S['TimelineDetail'];
export type ArtifactSummary = S['Artifact'];
export type ArtifactDetail = S['ArtifactDetail'];
export type LogLine = S['LogLine'];
export type LogPage = S['LogPage'];
export type LogSearch = S['LogSearch'];
export type Card = S['Card'];
export type CardData = S['CardData'];
export type Health = S['Health'];
export type ClonePage = S['ClonePage'];
export type Clone = S['Clone'];
export type RecordField = S['RecordField'];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } }
  ? NonNullable<Q>
  : never;

export type FlowsQuery = Query<'/api/v1/flows'>;
export type RunsQuery = Query<'/api/v1/runs'>;
export type RunOrder = NonNullable<RunsQuery['order']>;
export type TasksQuery = Query<'/api/v1/flows/{flow_id}/runs/{run_id}/tasks'>;
export type TaskOrder = NonNullable<TasksQuery['order']>;
export type LogQuery =
  Query<'/api/v1/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}/logs/{stream}'>;
export type LogSearchQuery =
  Query<'/api/v1/flows/{flow_id}/runs/{run_id}/steps/{step_name}/tasks/{task_id}/logs/{stream}/search'>;
