/**
 * JSON shapes answered by /dataops/api/, field for field the schemas of
 * jupyter_dataops/server/openapi.yaml (components/schemas). `tests/test_openapi_contract.py`
 * validates the server's live answers against those schemas, which refuse unknown fields; when a
 * schema changes, change its interface here (same name without the `I`).
 *
 * Optional (`?`) fields are those the schema does not list as required.
 */

/** Error: every error answer. */
export interface IError {
  message: string;
  reason?: string | null;
}

export type RunStatus = 'queued' | 'running' | 'success' | 'failed' | 'skipped' | 'interrupted';
export type RunMode = 'production' | 'test';
/** `baseline`: an spc line not judged yet (collecting its baseline); never a pass. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'error' | 'baseline';

/** CheckCounts: how many check lines of a run ended in each status. */
export interface ICheckCounts {
  pass: number;
  warn: number;
  fail: number;
  error: number;
  baseline?: number;
}

/** RunRow: a step run in a list. */
export interface IRunRow {
  id: number;
  pipeline_run_id: number;
  pipeline: string;
  step: string;
  status: RunStatus;
  mode: RunMode;
  attempt: number;
  created_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  /** seconds */
  duration: number | null;
  checks: ICheckCounts;
  /** the operations observer's implicit lines (duration, queue delay, ...), counted apart */
  operations?: ICheckCounts;
  /** a production run of the working notebook, not of the promoted version */
  unpromoted?: boolean;
  /** the period the run is for (2026-09-01, 2026-W36, ...); null without partitions */
  partition?: string | null;
  /** what the step ran with (secret values as ***) */
  parameters?: Record<string, unknown> | null;
}

/** RunList: one page of runs. */
export interface IRunList {
  runs: IRunRow[];
  total: number;
  limit: number;
  offset: number;
  hint: string | null;
  project_dir?: string | null;
}

/** Version: a promoted version of a step. */
export interface IVersion {
  version: number;
  notebook_path: string;
  content_hash: string;
  parameters: Record<string, unknown> | null;
  promoted_by: string | null;
  promoted_at: string | null;
  created?: boolean;
}

/** A metric's unit: count (whole), percent (observed is in percent), seconds (a duration) or
 * value (the column's own unit). */
export type CheckUnit = 'count' | 'percent' | 'seconds' | 'value';

/** CheckResult: one check line's result. */
export interface ICheckResult {
  suite: string | null;
  line: number | null;
  source: string | null;
  status: CheckStatus;
  observed: number | null;
  /** observed, formatted for people by the server the English way (unit, separators) */
  observed_display: string | null;
  /** the metric's unit, to say `observed` in the browser's locale (null: a check without a metric) */
  unit: CheckUnit | null;
  threshold: string | null;
  metric: string | null;
  message: string | null;
  /** an spc line's chart, rules, baseline and verdict */
  spc?: Record<string, unknown> | null;
}

/** NotebookLink: where a run's executed notebook is, relative to the Jupyter root. */
export interface INotebookLink {
  path: string | null;
  exists: boolean;
  message: string | null;
}

/** RunDetail: a RunRow and everything about the run. */
export interface IRunDetail extends IRunRow {
  parameters: Record<string, unknown> | null;
  error: string | null;
  skip_reason: string | null;
  notebook_path: string | null;
  pid: number | null;
  host: string | null;
  inputs: string[];
  outputs: string[];
  version: IVersion | null;
  check_results: ICheckResult[];
  metrics: { suite: string | null; metric: string; value: number }[];
  executed_notebook: INotebookLink;
}

/** LastRun */
export interface ILastRun {
  id: number;
  status: string;
  started_at: string | null;
  ended_at: string | null;
}

/** Step: a pipeline step as the panel lists it. */
export interface IStep {
  name: string;
  notebook: string | null;
  notebook_exists: boolean;
  parameters: Record<string, unknown>;
  depends_on: string[];
  schedule: string | null;
  next_run: string | null;
  retries: number;
  timeout: number | null;
  last_run: ILastRun | null;
  latest_version: IVersion | null;
  /** the version production runs execute; null: never promoted */
  promoted_version?: number | null;
  /** the working notebook differs from the promoted version */
  edited_since_promotion?: boolean;
}

/** PipelineList */
export interface IPipelineList {
  pipelines: { name: string; steps: IStep[] }[];
  hint: string | null;
  project_dir: string | null;
  pipeline_file: string | null;
}

/** StepMetrics: the metrics a step has recorded. */
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
  project_dir?: string | null;
}

/** RunStarted: the answer of POST steps/{step}/run. */
export interface IRunStarted {
  pipeline_run_id: number;
  step_run_id: number | null;
  step: string;
  status: string;
}

/** The body of POST promote. */
export interface IPromoteRequest {
  notebook: string;
  step: string;
  parameters?: Record<string, unknown>;
  schedule?: string | null;
}

/** PromoteResult: the gate's answer. */
export interface IPromoteResult {
  promoted: boolean;
  step: string;
  message: string;
  /** why the gate refused (promoted false) */
  failures?: string[];
  /** the step's promoted version (promoted true) */
  version?: IVersion;
  /** the gate run's seconds (promoted true) */
  duration?: number | null;
  executed_notebook: INotebookLink | null;
  checks: ICheckResult[];
  gate_run_id: number | null;
  /** relative to the Jupyter root */
  pipeline_file: string | null;
}

/** NotebookModel: a read-only Jupyter contents model of an executed notebook. */
export interface INotebookModel {
  name: string;
  path: string;
  type: 'notebook';
  format: string | null;
  mimetype: string | null;
  writable: boolean;
  created: string;
  last_modified: string;
  size: number;
  content: Record<string, unknown> | null;
}

/** ChartWindow: where the drawn points sit in the metric's whole series (0: its oldest). */
export interface IChartWindow {
  first: number;
  count: number;
  total: number;
  /** the `before` of the older page (null: this is the oldest) */
  older: number | null;
  /** the `before` of the newer page (null: this is the newest) */
  newer: number | null;
}

/** Violation: one point breaking one rule. */
export interface IViolation {
  rule: string;
  description: string;
  step_run_id: number | null;
  time: string | null;
  value: number;
  /** the period the run was for */
  partition: string | null;
  /** the run's parameters in one line (secrets ***), without those that repeat the partition */
  parameters: string | null;
}

/** MetricChart: a metric's chart as its spc line judged it. */
export interface IMetricChart {
  step: string;
  metric: string;
  pipeline: string | null;
  /** the spc line's chart type */
  chart: string;
  /** its rule set (null for ewma and cusum) */
  rules: string | null;
  /** N: the first N successful production runs set the limits */
  baseline: number;
  /** baseline runs found so far */
  collected: number;
  /** false while collecting the baseline (no limits, nothing flagged) */
  judged: boolean;
  /** the spc line's source; null when no spc line watches the metric */
  line: string | null;
  note: string | null;
  title: string;
  limits: { center: number | null; lcl: number | null; ucl: number | null };
  violations: IViolation[];
  window: IChartWindow;
  mimetype: string;
  /** a Vega-Lite v5 spec; its data holds each drawn point once (x, r, t, y, p, k, b) */
  spec: Record<string, unknown>;
}

/** Scheduler: whether a `dataops scheduler` is alive for the pipeline. */
export interface IScheduler {
  alive: boolean;
  /** null when no scheduler ever ran */
  host: string | null;
  pid: number | null;
  /** ISO-8601 UTC */
  heartbeat_at: string | null;
  started_at: string | null;
  /** "scheduler running on host (pid 12)" or "scheduler not running: ..." */
  message: string;
}

/** Status: the scheduler and each schedule's next and last tick. */
export interface IStatus {
  pipeline: string | null;
  scheduler: IScheduler;
  schedules: {
    /** a step name, or "*" for the pipeline's own schedule */
    key: string;
    /** the steps one tick runs (the step and everything upstream) */
    steps: string[];
    schedule: string;
    timezone: string;
    catchup: 'skip' | 'latest' | 'all';
    /** ISO-8601 UTC */
    next_run: string;
    last_scheduled: {
      scheduled_for: string;
      /** the period the tick processes (`partitions:`), e.g. 2026-09-01 */
      partition: string | null;
      status: 'claimed' | 'started' | 'skipped' | 'failed' | 'interrupted';
      reason: string | null;
      pipeline_run_id: number | null;
      run_status: string | null;
    } | null;
  }[];
  hint: string | null;
}

/** GridCell: the latest production run of one step for one partition. */
export interface IGridCell {
  /** the step run (GET runs/{run_id}) */
  run_id: number;
  pipeline_run_id: number;
  status: RunStatus;
  attempt: number;
  checks: ICheckCounts;
  started_at: string | null;
  ended_at: string | null;
  /** not successful by the step's expect_by */
  late: boolean;
}

/** One partition of the grid: a cell per step, in the order of `IGrid.steps`. */
export interface IGridRow {
  partition: string;
  /** the period of the key; one other than the grid's was recorded under an earlier `every:` */
  every: string | null;
  /** null: the step never ran for this partition */
  cells: (IGridCell | null)[];
  /** the steps late for this partition */
  late: string[];
}

/** Grid: one page of partitions (newest first) × steps. */
export interface IGrid {
  pipeline: string | null;
  /** the partition length; null: the pipeline has no partitions */
  every: 'hour' | 'day' | 'week' | 'month' | null;
  steps: string[];
  partitions: IGridRow[];
  total: number;
  limit: number;
  offset: number;
  hint: string | null;
  project_dir?: string | null;
}

/** PartitionRunStarted: "Re-run this day" started a run of every step for the partition. */
export interface IPartitionRunStarted {
  pipeline_run_id: number;
  partition: string;
  step_runs: { step: string; step_run_id: number; status: string }[];
}

/** Incident: one problem of one step (schema `Incident`). */
export interface IIncident {
  id: number;
  pipeline: string;
  step: string | null;
  kind: 'check' | 'step_failed' | 'spc' | 'late' | 'reported';
  /** the check line's text, the metric, or the reported title */
  key: string;
  title: string;
  status: 'open' | 'acknowledged' | 'resolved';
  first_seen: string;
  last_seen: string;
  count: number;
  passes: number;
  opened_by: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  acknowledged_note: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  resolved_note: string | null;
  resolved_step_run_id: number | null;
  reminded_at: string | null;
  /** the blast radius */
  affected: { steps: string[]; outputs: string[] };
  /** the step runs behind it, oldest first */
  runs: { step_run_id: number | null; partition: string | null; seen_at: string }[];
  partitions: string[];
  opened_here?: boolean;
}

/** IncidentList: GET incidents. */
export interface IIncidentList {
  incidents: IIncident[];
  hint: string | null;
  project_dir?: string | null;
}
