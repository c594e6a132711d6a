import { requestAPI } from './handler';
import {
  IGrid,
  IIncident,
  IIncidentList,
  IMetricChart,
  IPartitionRunStarted,
  INotebookModel,
  IPipelineList,
  IPromoteRequest,
  IPromoteResult,
  IRunDetail,
  IRunList,
  IRunStarted,
  IStatus,
  IStepMetrics
} from './types';

/** Filters and paging of GET runs. */
export interface IRunsQuery {
  step?: string | null;
  status?: string | null;
  pipeline?: string | null;
  limit?: number;
  offset?: number;
}

/** What GET metrics draws: a step's metric, as its spc line judged it. */
export interface IChartQuery {
  step: string;
  metric: string;
  pipeline?: string | null;
  /** the window: draw N points (server default 90; 0: all) */
  limit?: number | null;
  /** page to older history: the window ends before this position of the series */
  before?: number | null;
}

function withQuery(path: string, params: Record<string, string | number | null | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') {
      query.set(name, String(value));
    }
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

/**
 * The one client of the REST routes under /dataops/api/ (jupyter_dataops/server/openapi.yaml),
 * each answer typed by its schema. Errors reject with a `DataOpsApiError` whose message is
 * the server's (what went wrong and what to do).
 */
export class DataOpsClient {
  /** GET pipelines: the project's pipeline and its steps. */
  pipelines(): Promise<IPipelineList> {
    return requestAPI<IPipelineList>('pipelines');
  }

  /** GET status: whether a scheduler runs, and each schedule's next and last tick. */
  status(): Promise<IStatus> {
    return requestAPI<IStatus>('status');
  }

  /** GET runs: one page of step runs, newest first. */
  runs(query: IRunsQuery = {}): Promise<IRunList> {
    return requestAPI<IRunList>(withQuery('runs', { ...query }));
  }

  /** GET runs/{id}: one run with its checks, metrics and executed notebook. */
  run(runId: number): Promise<IRunDetail> {
    return requestAPI<IRunDetail>(`runs/${runId}`);
  }

  /** GET runs/{id}/notebook: the executed notebook as a read-only contents model. */
  runNotebook(runId: number, content = true): Promise<INotebookModel> {
    return requestAPI<INotebookModel>(withQuery(`runs/${runId}/notebook`, { content: content ? null : 0 }));
  }

  /** GET steps/{step}/metrics: the metrics a step recorded. */
  stepMetrics(step: string, pipeline?: string | null): Promise<IStepMetrics> {
    return requestAPI<IStepMetrics>(
      withQuery(`steps/${encodeURIComponent(step)}/metrics`, { pipeline })
    );
  }

  /** GET metrics: a metric's control chart. */
  metricChart(query: IChartQuery): Promise<IMetricChart> {
    return requestAPI<IMetricChart>(withQuery('metrics', { ...query }));
  }

  /** POST steps/{step}/run: start a production run of the step now. */
  runStep(step: string, parameters: Record<string, unknown> = {}): Promise<IRunStarted> {
    return requestAPI<IRunStarted>(
      `steps/${encodeURIComponent(step)}/run`,
      post({ parameters })
    );
  }

  /** GET grid: one page of partitions (newest first) × steps. */
  grid(query: { pipeline?: string | null; limit?: number; offset?: number } = {}): Promise<IGrid> {
    return requestAPI<IGrid>(withQuery('grid', { ...query }));
  }

  /** POST partitions/{key}/run: re-run every step for one partition (`dataops run --partition`). */
  rerunPartition(partition: string): Promise<IPartitionRunStarted> {
    return requestAPI<IPartitionRunStarted>(
      `partitions/${encodeURIComponent(partition)}/run`,
      post({})
    );
  }

  /** GET incidents: open and acknowledged incidents (`all`: resolved ones too). */
  incidents(all = false): Promise<IIncidentList> {
    return requestAPI<IIncidentList>(withQuery('incidents', { all: all ? 'true' : null }));
  }

  /** POST incidents/{id}/ack|resolve: acknowledge or resolve an incident with a note. */
  actOnIncident(id: number, action: 'ack' | 'resolve', note: string | null): Promise<IIncident> {
    return requestAPI<IIncident>(`incidents/${id}/${action}`, post({ note }));
  }

  /** POST promote: run the gate on a notebook and promote it into a step if it passes. */
  promote(request: IPromoteRequest): Promise<IPromoteResult> {
    return requestAPI<IPromoteResult>('promote', post(request));
  }
}
