import { badge, errorBox, h, hint } from '../dom';
import { localTime, relativeTime } from '../locale';
import { errorText } from '../handler';
import { DataOpsModel } from '../model';
import { IStatus } from '../types';
import { Section } from './section';

type ISchedule = IStatus['schedules'][number];

/**
 * The scheduler: whether a `dataops scheduler` is alive (said plainly, "scheduler not running",
 * when none is), its last heartbeat, and per schedule its cron, time zone, next and last tick.
 */
export class SchedulerSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-scheduler-section');
  }

  async load(): Promise<void> {
    try {
      const data = await this.model.client.status();
      this._render(data);
    } catch (error) {
      this.draw(`error ${errorText(error)}`, () => [
        h('h3', {}, 'Scheduler'),
        errorBox(`Cannot load the scheduler's state: ${errorText(error)}`)
      ]);
    }
  }

  private _render(data: IStatus): void {
    const scheduler = data.scheduler;
    const state = scheduler.alive ? 'running' : 'stopped';
    this.draw(JSON.stringify(data), () => [
      h('h3', {}, 'Scheduler'),
      h(
        'div',
        {
          className: `jp-DataOps-scheduler jp-DataOps-scheduler-${state}`,
          'data-testid': 'dataops-scheduler',
          'data-alive': String(scheduler.alive),
          role: 'status'
        },
        scheduler.message,
        scheduler.heartbeat_at
          ? h(
              'span',
              { className: 'jp-DataOps-muted', title: localTime(scheduler.heartbeat_at) },
              ` \u2014 last heartbeat ${localTime(scheduler.heartbeat_at)}`
            )
          : null
      ),
      data.hint ? hint(data.hint) : null,
      data.schedules.length
        ? h('ul', { className: 'jp-DataOps-schedules' }, data.schedules.map(s => this._row(s)))
        : null
    ]);
  }

  private _row(schedule: ISchedule): HTMLElement {
    const last = schedule.last_scheduled;
    return h(
      'li',
      {
        className: 'jp-DataOps-schedule',
        'data-testid': 'dataops-schedule',
        'data-key': schedule.key,
        title: `runs ${schedule.steps.join(', ')} (catch-up: ${schedule.catchup})`
      },
      h(
        'div',
        { className: 'jp-DataOps-run-head' },
        h(
          'span',
          { className: 'jp-DataOps-run-step', title: schedule.key === '*' ? 'whole pipeline' : schedule.key },
          schedule.key === '*' ? 'whole pipeline' : schedule.key
        ),
        h('code', {}, schedule.schedule),
        h('span', { className: 'jp-DataOps-muted' }, schedule.timezone)
      ),
      h(
        'div',
        { className: 'jp-DataOps-run-meta' },
        h(
          'span',
          { title: localTime(schedule.next_run) },
          `next tick ${localTime(schedule.next_run)} (${relativeTime(schedule.next_run)})`
        ),
        last
          ? h(
              'span',
              {
                'data-testid': 'dataops-schedule-last',
                title: last.reason ?? localTime(last.scheduled_for)
              },
              `last tick ${localTime(last.scheduled_for)} `,
              badge(last.status),
              last.pipeline_run_id !== null ? ` pipeline run #${last.pipeline_run_id}` : null,
              last.run_status ? ` (${last.run_status})` : null
            )
          : h('span', { className: 'jp-DataOps-muted' }, 'no tick yet')
      )
    );
  }
}
