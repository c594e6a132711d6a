/** JSON shapes answered by /dataops/api/ (see jupyter_dataops/server/openapi.yaml). */

export interface ILastRun {
  id: number;
  status: string;
  started_at: string | null;
  ended_at: string | null;
}

export interface IStep {
  name: string;
  notebook: string | null;
  notebook_exists: boolean;
  parameters: Record<string, unknown>;
  depends_on: string[];
  schedule: string | null;
  next_run: string | null;
  last_run: ILastRun | null;
}

export interface IPipeline {
  name: string;
  steps: IStep[];
}

export interface IPipelineList {
  pipelines: IPipeline[];
  hint: string | null;
  project_dir: string | null;
  pipeline_file: string | null;
}

export interface ICheckCounts {
  pass?: number;
  warn?: number;
  fail?: number;
  error?: number;
}

export interface IRunRow {
  id: number;
  pipeline_run_id: number;
  pipeline: string;
  step: string;
  status: string;
  mode: string;
  attempt: number;
  created_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  duration: number | null;
  checks: ICheckCounts;
}

export interface IRunList {
  runs: IRunRow[];
  total: number;
  limit: number;
  offset: number;
  hint: string | null;
}

export interface ICheckResult {
  suite: string | null;
  line: number;
  source: string;
  status: string;
  observed: number | null;
  threshold: string | null;
  metric: string | null;
  message: string | null;
}

export interface IRunDetail extends IRunRow {
  parameters: Record<string, unknown>;
  error: string | null;
  skip_reason: string | null;
  notebook_path: string | null;
  check_results: ICheckResult[];
  metrics: { suite: string | null; metric: string; value: number }[];
  executed_notebook: {
    path: string | null;
    exists: boolean;
    message: string | null;
  };
}

export interface IStepMetrics {
  step: string;
  metrics: {
    metric: string;
    suite: string | null;
    points: number;
    last_value: number | null;
    last_time: string | null;
  }[];
  hint: string | null;
}

export interface IMetricChart {
  step: string;
  metric: string;
  chart: string;
  title: string;
  rules: string;
  charts: string[];
  rule_sets: string[];
  points: Record<string, unknown>[];
  limits: Record<string, number | null>;
  violations: Record<string, unknown>[];
  mimetype: string;
  spec: Record<string, unknown>;
}

export interface IRunStarted {
  pipeline_run_id: number;
  step_run_id: number | null;
  step: string;
  status: string;
}
