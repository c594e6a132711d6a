import { ISignal, Signal } from '@lumino/signaling';

import { DataOpsClient } from './client';

/** How often the panel asks the server for news while it is visible. */
export const POLL_INTERVAL_MS = 3000;

/** The metric whose control chart is shown. */
export interface IChartSelection {
  step: string;
  metric: string;
}

export interface INotice {
  text: string;
  kind: 'info' | 'error';
}

/**
 * What the panel's sections share (and each main-area tab has one of its own): the REST client,
 * the selected step, run and chart, requests to open a run or a chart in a tab, a notice line,
 * and polling. Sections listen to the signals and register their loaders; none calls
 * another section. A new section is one new file that does the same.
 */
export class DataOpsModel {
  constructor(readonly client: DataOpsClient) {}

  /** The step whose runs and metrics are shown (null: every step). */
  get selectedStep(): string | null {
    return this._step;
  }
  set selectedStep(step: string | null) {
    if (step !== this._step) {
      this._step = step;
      this._stepChanged.emit(step);
    }
  }
  get stepChanged(): ISignal<this, string | null> {
    return this._stepChanged;
  }

  /** The run shown in full (null: none). */
  get selectedRun(): number | null {
    return this._run;
  }
  set selectedRun(runId: number | null) {
    if (runId !== this._run) {
      this._run = runId;
      this._runChanged.emit(runId);
    }
  }
  get runChanged(): ISignal<this, number | null> {
    return this._runChanged;
  }

  /** The metric whose chart is shown (null: none). Setting it again redraws the chart. */
  get chart(): IChartSelection | null {
    return this._chart;
  }
  set chart(selection: IChartSelection | null) {
    this._chart = selection;
    this._chartChanged.emit(selection);
  }
  get chartChanged(): ISignal<this, IChartSelection | null> {
    return this._chartChanged;
  }

  /** Open a run's detail (a main-area tab) and mark it selected in the lists. Unlike setting
   * `selectedRun`, asking again for the run already selected opens (activates) its tab again. */
  openRun(runId: number): void {
    this.selectedRun = runId;
    this._runOpened.emit(runId);
  }
  get runOpened(): ISignal<this, number> {
    return this._runOpened;
  }

  /** Open a metric's control chart (a main-area tab, one per step and metric). */
  openChart(selection: IChartSelection): void {
    this._chartOpened.emit(selection);
  }
  get chartOpened(): ISignal<this, IChartSelection> {
    return this._chartOpened;
  }

  /** A line for the user at the top of the panel. */
  say(text: string, kind: INotice['kind'] = 'info'): void {
    this._noticeChanged.emit({ text, kind });
  }
  get noticeChanged(): ISignal<this, INotice> {
    return this._noticeChanged;
  }

  /** Called on every refresh (and poll); returns the function that unregisters it. */
  addLoader(loader: () => Promise<void>): () => void {
    this._loaders.add(loader);
    return () => {
      this._loaders.delete(loader);
    };
  }

  /** Reload everything the sections show. A loader shows its own errors; none rejects here. */
  async refresh(): Promise<void> {
    await Promise.all([...this._loaders].map(load => load().catch(error => this.say(String(error), 'error'))));
  }

  /** Refresh every POLL_INTERVAL_MS while `active()` says so (one refresh at a time). */
  startPolling(active: () => boolean): void {
    if (this._timer !== null) {
      return;
    }
    this._timer = window.setInterval(() => {
      if (active() && !this._busy) {
        this._busy = true;
        void this.refresh().finally(() => {
          this._busy = false;
        });
      }
    }, POLL_INTERVAL_MS);
  }

  stopPolling(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.stopPolling();
    this._loaders.clear();
    Signal.clearData(this);
  }

  private _step: string | null = null;
  private _run: number | null = null;
  private _chart: IChartSelection | null = null;
  private _loaders = new Set<() => Promise<void>>();
  private _timer: number | null = null;
  private _busy = false;
  private _disposed = false;
  private _stepChanged = new Signal<this, string | null>(this);
  private _runChanged = new Signal<this, number | null>(this);
  private _chartChanged = new Signal<this, IChartSelection | null>(this);
  private _noticeChanged = new Signal<this, INotice>(this);
  private _runOpened = new Signal<this, number>(this);
  private _chartOpened = new Signal<this, IChartSelection>(this);
}
