import { Dialog, showDialog } from '@jupyterlab/apputils';

import { errorBox, h, hint, pager } from '../dom';
import { errorText } from '../handler';
import { localTime } from '../locale';
import { DataOpsModel } from '../model';
import { IGrid, IGridCell, IGridRow } from '../types';
import { Section } from './section';

/** Partitions per page of the grid. */
export const GRID_PAGE_SIZE = 14;

/** The words for a partition length, in the re-run button's title and dialog ("Re-run this day"). */
const PERIOD: Record<string, string> = { hour: 'hour', day: 'day', week: 'week', month: 'month' };

/** A cell's check counts in a few characters: "5✓ 1⚠ 1✗ 2·" (passed, warned, failed, not judged). */
export function countsText(cell: IGridCell): string {
  const c = cell.checks;
  const parts: string[] = [];
  if (c.pass) {
    parts.push(`${c.pass}\u2713`);
  }
  if (c.warn) {
    parts.push(`${c.warn}\u26a0`);
  }
  if (c.fail + c.error) {
    parts.push(`${c.fail + c.error}\u2717`);
  }
  if (c.baseline) {
    parts.push(`${c.baseline}\u00b7`);
  }
  return parts.join(' ');
}

/**
 * The factory's calendar: partitions (rows, newest first, paged) × steps (columns). Each cell is
 * the partition's latest production run of the step, coloured by status with its check counts;
 * a click opens the run's tab; "Re-run" (this day, week…; confirmed) starts `dataops run --partition KEY`.
 */
export class GridSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-grid', 'jp-DataOps-grid');
    model.runChanged.connect(() => {
      if (this._data) {
        this._render(this._data);
      }
    });
  }

  async load(): Promise<void> {
    try {
      const data = await this.model.client.grid({ limit: GRID_PAGE_SIZE, offset: this._offset });
      this._data = data;
      this._render(data);
    } catch (error) {
      this._data = null;
      this.draw(`error ${errorText(error)}`, () => [
        h('h3', {}, 'Grid'),
        errorBox(`Cannot load the grid: ${errorText(error)}`)
      ]);
    }
  }

  private _render(data: IGrid): void {
    this.draw(JSON.stringify(data) + String(this.model.selectedRun), () => [
      h(
        'h3',
        {},
        'Grid',
        data.every
          ? h('span', { className: 'jp-DataOps-muted' }, ` (${data.total} ${data.every}s)`)
          : null
      ),
      data.hint ? hint(data.hint) : null,
      data.partitions.length ? this._table(data) : null,
      data.total > data.limit ? pager(data, 'dataops-grid', offset => this._page(offset)) : null
    ]);
  }

  private _table(data: IGrid): HTMLElement {
    return h(
      'div',
      { className: 'jp-DataOps-grid-scroll' },
      h(
        'table',
        { className: 'jp-DataOps-grid-table', 'data-testid': 'dataops-grid-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { className: 'jp-DataOps-grid-key' }, data.every || 'partition'),
            data.steps.map(step => h('th', { 'data-step': step, title: step }, step)),
            h('th', {}, '')
          )
        ),
        h(
          'tbody',
          {},
          data.partitions.map(row => this._row(data, row))
        )
      )
    );
  }

  private _row(data: IGrid, row: IGridRow): HTMLElement {
    const period = PERIOD[data.every || ''] || 'partition';
    // a key of another period (an earlier `every:`): shown, marked, not re-run as this one
    const other = row.every !== data.every;
    const was = other ? PERIOD[row.every || ''] || 'period' : '';
    return h(
      'tr',
      {
        'data-testid': 'dataops-grid-row',
        'data-partition': row.partition,
        'data-every': row.every || '',
        className: [row.late.length ? 'jp-mod-late' : '', other ? 'jp-mod-other-period' : '']
          .join(' ')
          .trim()
      },
      h(
        'th',
        {
          className: 'jp-DataOps-grid-key',
          scope: 'row',
          title: other
            ? `${row.partition}: a ${was} recorded under an earlier \`every:\`, not on the current schedule (every ${data.every})`
            : row.partition
        },
        row.partition,
        other ? h('span', { className: 'jp-DataOps-grid-other' }, ` (${was})`) : null
      ),
      data.steps.map((step, i) => this._cell(row, step, row.cells[i] ?? null)),
      h(
        'td',
        {},
        other
          ? null
          : h(
              'button',
              {
                className: 'jp-mod-styled jp-DataOps-button jp-DataOps-rerun',
                'data-testid': 'dataops-grid-rerun',
                title: `Re-run this ${period}: every step again for ${row.partition} (dataops run --partition ${row.partition})`,
                onclick: () => void this._rerun(row.partition, period)
              },
              'Re-run'
            )
      )
    );
  }

  private _cell(row: IGridRow, step: string, cell: IGridCell | null): HTMLElement {
    const late = row.late.includes(step);
    if (cell === null) {
      return h(
        'td',
        {
          className: `jp-DataOps-grid-cell jp-DataOps-grid-empty${late ? ' jp-mod-late' : ''}`,
          'data-testid': 'dataops-grid-cell',
          'data-step': step,
          'data-status': late ? 'late' : 'missing',
          'data-late': late ? 'true' : 'false',
          title: late
            ? `${step} has not run for ${row.partition} and is late`
            : `${step} has not run for ${row.partition}`
        },
        late ? 'late' : '\u2013'
      );
    }
    const selected = cell.run_id === this.model.selectedRun;
    const when = cell.ended_at || cell.started_at;
    const title =
      `${step} \u00b7 ${row.partition}: run #${cell.run_id} ${cell.status}` +
      (when ? ` (${localTime(when)})` : '') +
      (late ? ' \u2014 late' : '') +
      '. Click to open the run.';
    return h(
      'td',
      {
        className:
          `jp-DataOps-grid-cell jp-DataOps-status-${cell.status}` +
          (late ? ' jp-mod-late' : '') +
          (selected ? ' jp-mod-selected' : ''),
        'data-testid': 'dataops-grid-cell',
        'data-step': step,
        'data-status': cell.status,
        'data-run-id': cell.run_id,
        'data-late': late ? 'true' : 'false',
        title,
        onclick: () => {
          this.model.openRun(cell.run_id);
        }
      },
      h('span', { className: 'jp-DataOps-grid-counts', 'data-testid': 'dataops-grid-counts' }, countsText(cell) || cell.status),
      late ? h('span', { className: 'jp-DataOps-grid-late' }, ' late') : null
    );
  }

  private async _rerun(partition: string, period: string): Promise<void> {
    const answer = await showDialog({
      title: `Re-run ${partition}?`,
      body:
        `Every step runs again for ${partition} (dataops run --partition ${partition}). ` +
        `The new runs replace this ${period}'s cells and its points in the control charts; ` +
        'the runs they replace stay in the run history.',
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: `Re-run ${partition}` })]
    });
    if (!answer.button.accept) {
      return;
    }
    this.model.say(`Starting ${partition}\u2026`);
    try {
      const started = await this.model.client.rerunPartition(partition);
      this.model.say(
        `Started run ${started.pipeline_run_id} of ${partition} ` +
          `(${started.step_runs.length} step${started.step_runs.length === 1 ? '' : 's'}).`
      );
      await this.model.refresh();
    } catch (error) {
      this.model.say(`Could not re-run ${partition}: ${errorText(error)}`, 'error');
    }
  }

  private _page(offset: number): void {
    this._offset = offset;
    void this.load();
  }

  private _offset = 0;
  private _data: IGrid | null = null;
}
