import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { IErrorInfo, IFire, ISchedule } from '../api';
import { ParameterLine, ParameterValues } from './ParameterValues';
import { PipelineModel } from '../model';
import {
  CATCH_UP,
  CatchUp,
  OVERLAP,
  Overlap,
  cronHasSeconds,
  fireOffset,
  fireStatusShown,
  formatFireTime,
  scheduleNameError
} from '../schedules';
import { revealRun } from './RunHistory';
import { StatusBadge } from './StatusBadge';

/** The notebook's cron schedules, each with its recent fires, and the form adding one. */
export function SchedulePanel(props: { model: PipelineModel }): JSX.Element {
  const { model } = props;
  const { schedules } = model;
  const section = React.useRef<HTMLElement>(null);

  // a fire's run: its row in the run history
  const showRun = (runId: string): Promise<void> =>
    revealRun(model, section.current, runId);

  return (
    <section
      ref={section}
      className="mlops-section mlops-schedules"
      aria-label="Schedule"
    >
      <h3>
        Schedule
        {schedules.list.length > 0 && (
          <span className="mlops-muted">({schedules.list.length})</span>
        )}
      </h3>
      {schedules.error && (
        <div className="mlops-field-error">{schedules.error.text}</div>
      )}
      {!schedules.list.length && !schedules.error && !schedules.loading && (
        <div className="mlops-muted">No schedules of this notebook yet.</div>
      )}
      <ul>
        {schedules.list.map(s => (
          <ScheduleItem key={s.name} model={model} schedule={s} showRun={showRun} />
        ))}
      </ul>
      <NewScheduleForm model={model} />
    </section>
  );
}

function ScheduleItem(props: {
  model: PipelineModel;
  schedule: ISchedule;
  showRun: (runId: string) => Promise<void>;
}): JSX.Element {
  const { model, schedule: s, showRun } = props;
  const { schedules } = model;
  const busy = schedules.busy(s.name);
  const error = schedules.actionError(s.name);
  const history = schedules.history(s.name);
  const state = s.enabled ? 'on' : 'paused';
  const seconds = cronHasSeconds(s.cron);

  const remove = async (): Promise<void> => {
    const answer = await showDialog({
      title: `Remove schedule ${s.name}?`,
      body: 'It stops firing and its fire history goes; the runs it started stay.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
    });
    if (answer.button.accept) {
      await schedules.remove(s.name);
    }
  };

  const toggleLabel =
    busy === 'pause'
      ? 'Pausing…'
      : busy === 'resume'
        ? 'Resuming…'
        : s.enabled
          ? 'Pause'
          : 'Resume';

  return (
    <li
      className={
        'mlops-schedule' + (s.name === schedules.created ? ' mlops-schedule-new' : '')
      }
      data-schedule={s.name}
      data-state={state}
    >
      <div className="mlops-schedule-head">
        <span className="mlops-schedule-name">{s.name}</span>
        <code className="mlops-schedule-cron" title="cron expression">
          {s.cron}
        </code>
        <span
          className={`mlops-schedule-state mlops-schedule-${state}`}
          title={s.enabled ? 'fires at its next time' : 'does not fire until resumed'}
        >
          {state}
        </span>
        <span className="mlops-schedule-buttons">
          <button
            type="button"
            className="jp-mod-styled mlops-schedule-toggle"
            disabled={!!busy}
            onClick={() => void schedules.setEnabled(s.name, !s.enabled)}
          >
            {toggleLabel}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn mlops-schedule-remove"
            disabled={!!busy}
            onClick={() => void remove()}
          >
            {busy === 'remove' ? 'Removing…' : 'Remove'}
          </button>
        </span>
      </div>
      <div className="mlops-muted mlops-schedule-next">
        {s.enabled && s.next_fire ? (
          <>
            next{' '}
            <time dateTime={s.next_fire} title={s.next_fire}>
              {formatFireTime(s.next_fire, { seconds })}
            </time>{' '}
            {s.tz} ({fireOffset(s.next_fire)})
          </>
        ) : s.enabled ? (
          <>no next fire · {s.tz}</>
        ) : (
          <>paused: resumed, it fires from the next time on · {s.tz}</>
        )}
        {s.pin && ' · pinned'}
        {s.catch_up !== 'latest' && ` · catch-up ${s.catch_up}`}
        {s.overlap !== 'skip' && ` · overlap ${s.overlap}`}
      </div>
      <ParameterLine values={s.parameters} />
      {error && <div className="mlops-field-error">{error.text}</div>}
      <FireHistory history={history} seconds={seconds} showRun={showRun} />
    </li>
  );
}

function FireHistory(props: {
  history: readonly IFire[] | IErrorInfo | undefined;
  seconds: boolean;
  showRun: (runId: string) => Promise<void>;
}): JSX.Element | null {
  const { history, seconds, showRun } = props;
  if (history === undefined) {
    return null;
  }
  if (!Array.isArray(history)) {
    return <div className="mlops-field-error">{(history as IErrorInfo).text}</div>;
  }
  const fires = history as readonly IFire[];
  if (!fires.length) {
    return <div className="mlops-muted mlops-fires-none">Not fired yet.</div>;
  }
  return (
    <table className="mlops-table mlops-fires" aria-label="Latest fires">
      <tbody>
        {fires.map(f => (
          <tr
            key={`${f.scheduled_for}-${f.attempts}`}
            data-status={f.status}
            data-reason={f.reason}
          >
            <td className="mlops-fire-when" title={f.scheduled_for}>
              {formatFireTime(f.scheduled_for, { short: true, seconds })}
            </td>
            <td>
              <StatusBadge status={fireStatusShown(f.status)} short />
            </td>
            <td className="mlops-muted mlops-fire-reason">
              {f.reason}
              {f.attempts > 1 ? ` ×${f.attempts}` : ''}
            </td>
            <td className="mlops-fire-run-cell">
              {f.run_id && (
                <button
                  type="button"
                  className="mlops-link mlops-fire-run"
                  title={`Show run ${f.run_id} in the run history`}
                  onClick={() => void showRun(f.run_id!)}
                >
                  …{f.run_id.slice(-6)}
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

let zones: string[] | null = null;

/** The IANA zones the browser knows, for the zone field's suggestions. */
function knownZones(): string[] {
  if (zones === null) {
    const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
    try {
      zones = intl.supportedValuesOf?.('timeZone') ?? [];
    } catch {
      zones = [];
    }
  }
  return zones;
}

// rendered once: some 400 options, not rebuilt on every render of the panel
const ZoneList = React.memo((): JSX.Element => (
  <datalist id="mlops-schedule-zones">
    {knownZones().map(z => (
      <option key={z} value={z} />
    ))}
  </datalist>
));

function CronPreviewView(props: { model: PipelineModel }): JSX.Element {
  const preview = props.model.schedules.preview;
  return (
    <div id="mlops-cron-preview" className="mlops-cron-preview" aria-live="polite">
      {preview.state === 'empty' && (
        <span className="mlops-muted">
          5 fields (minute hour day month weekday), 6 with seconds first, or @daily
        </span>
      )}
      {preview.state === 'pending' && <span className="mlops-muted">…</span>}
      {preview.state === 'ok' && (
        <>
          <span className="mlops-muted">
            next in {preview.preview.tz}
            {preview.preview.next[0] ? ` (${fireOffset(preview.preview.next[0])})` : ''}
            :
          </span>
          <ul className="mlops-cron-next">
            {preview.preview.next.map(t => (
              <li key={t}>
                <time dateTime={t} title={t}>
                  {formatFireTime(t, { seconds: cronHasSeconds(preview.expr) })}
                </time>
              </li>
            ))}
          </ul>
        </>
      )}
      {preview.state === 'error' && (
        <div className="mlops-field-error mlops-cron-error">{preview.error.text}</div>
      )}
    </div>
  );
}

function NewScheduleForm(props: { model: PipelineModel }): JSX.Element {
  const { model } = props;
  const { schedules, pipeline } = model;
  const form = schedules.form;
  const nameError = scheduleNameError(form.name.trim());
  const parameters = pipeline.paramValues();

  return (
    <form
      className="mlops-schedule-form"
      aria-label="New schedule"
      onSubmit={e => {
        e.preventDefault();
        void schedules.create();
      }}
    >
      <h4>New schedule</h4>
      <div className="mlops-param-grid">
        <label htmlFor="mlops-schedule-name">name</label>
        <div>
          <input
            id="mlops-schedule-name"
            type="text"
            placeholder="nightly"
            autoComplete="off"
            spellCheck={false}
            value={form.name}
            aria-invalid={!!nameError}
            aria-describedby={nameError ? 'mlops-schedule-name-error' : undefined}
            onChange={e => schedules.setField('name', e.target.value)}
          />
          {nameError && (
            <div id="mlops-schedule-name-error" className="mlops-field-error">
              {nameError}
            </div>
          )}
        </div>
        <label htmlFor="mlops-schedule-cron">cron</label>
        <input
          id="mlops-schedule-cron"
          type="text"
          placeholder="30 2 * * *"
          autoComplete="off"
          spellCheck={false}
          value={form.cron}
          aria-invalid={schedules.preview.state === 'error'}
          aria-describedby="mlops-cron-preview"
          onChange={e => schedules.setField('cron', e.target.value)}
        />
        <CronPreviewView model={model} />
        <label htmlFor="mlops-schedule-tz">zone</label>
        <div>
          <input
            id="mlops-schedule-tz"
            type="text"
            placeholder="the machine's"
            autoComplete="off"
            spellCheck={false}
            list="mlops-schedule-zones"
            value={form.tz}
            onChange={e => schedules.setField('tz', e.target.value)}
          />
          <ZoneList />
        </div>
        <label htmlFor="mlops-schedule-catch-up">catch-up</label>
        <select
          id="mlops-schedule-catch-up"
          value={form.catchUp}
          onChange={e => schedules.setField('catchUp', e.target.value as CatchUp)}
        >
          {CATCH_UP.map(([value, text]) => (
            <option key={value} value={value} title={text}>
              {value}
            </option>
          ))}
        </select>
        <label htmlFor="mlops-schedule-overlap">overlap</label>
        <select
          id="mlops-schedule-overlap"
          value={form.overlap}
          onChange={e => schedules.setField('overlap', e.target.value as Overlap)}
        >
          {OVERLAP.map(([value, text]) => (
            <option key={value} value={value} title={text}>
              {value}
            </option>
          ))}
        </select>
        <label htmlFor="mlops-schedule-pin">pin</label>
        <div className="mlops-schedule-pin">
          <input
            id="mlops-schedule-pin"
            type="checkbox"
            checked={form.pin}
            aria-describedby="mlops-schedule-pin-text"
            onChange={e => schedules.setField('pin', e.target.checked)}
          />{' '}
          <span id="mlops-schedule-pin-text" className="mlops-muted">
            run the version compiled now
          </span>
        </div>
      </div>
      <div className="mlops-muted mlops-schedule-params">
        {parameters === null ? (
          <span className="mlops-field-error">
            Fix the parameters marked in the form above first.
          </span>
        ) : Object.keys(parameters).length ? (
          <>
            with parameters <ParameterValues values={parameters} /> (from the form
            above)
          </>
        ) : (
          "with the notebook's default parameters"
        )}
      </div>
      <div className="mlops-schedule-create">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={schedules.creating}
        >
          {schedules.creating ? 'Creating…' : 'Create'}
        </button>
        {schedules.created && !schedules.createError && (
          <span className="mlops-muted">
            Added <strong>{schedules.created}</strong>.
          </span>
        )}
      </div>
      {schedules.createError && (
        <div className="mlops-field-error mlops-schedule-create-error">
          {schedules.createError.text}
        </div>
      )}
    </form>
  );
}
