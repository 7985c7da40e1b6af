import * as React from 'react';

import { formatDuration, formatTime } from '../format';
import { PipelineModel } from '../model';
import type { IPanelActions } from '../panel';
import { ACTIVE } from '../status';
import { RunDetails } from './RunDetails';
import { StatusBadge } from './StatusBadge';

/** The notebook's runs, newest first, each opening to its details; two can be compared. */
export function RunHistory(props: {
  model: PipelineModel;
  actions: IPanelActions;
}): JSX.Element {
  const { model, actions } = props;
  const { runs } = model;
  return (
    <section className="mlops-section mlops-runs" aria-label="Runs">
      <h3>
        Runs
        <button
          type="button"
          className="mlops-link"
          disabled={runs.selected.length !== 2}
          onClick={() => void runs.compare()}
          title="Pick two runs with their checkboxes"
        >
          compare {runs.selected.length}/2
        </button>
      </h3>
      {runs.error && <div className="mlops-field-error">{runs.error.text}</div>}
      {!runs.list.length && !runs.error && (
        <div className="mlops-muted">No runs of this notebook yet.</div>
      )}
      <ul>
        {runs.list.map(run => {
          const open = runs.expanded.has(run.run_id);
          const done = run.stages.filter(s => !ACTIVE.has(s.status)).length;
          return (
            <li
              key={run.run_id}
              className={'mlops-run' + (open ? ' mlops-run-open' : '')}
              data-run={run.run_id}
              data-status={run.status}
            >
              <div className="mlops-run-head">
                <input
                  type="checkbox"
                  aria-label={`Select run ${run.run_id} to compare`}
                  checked={runs.selected.includes(run.run_id)}
                  onChange={() => runs.toggleSelected(run.run_id)}
                />
                <button
                  type="button"
                  className="mlops-run-toggle"
                  aria-expanded={open}
                  title={`Run ${run.run_id}`}
                  onClick={() => runs.toggleExpanded(run.run_id)}
                >
                  <StatusBadge status={run.status} />
                  <span className="mlops-run-when">{formatTime(run.started_at)}</span>
                  <span className="mlops-muted mlops-run-took">
                    {ACTIVE.has(run.status)
                      ? `${done}/${run.stages.length}`
                      : formatDuration(run.duration_s)}
                  </span>
                </button>
                {run.cancellable && ACTIVE.has(run.status) && (
                  <button
                    type="button"
                    className="mlops-link"
                    onClick={() => void model.cancel(run.run_id)}
                  >
                    cancel
                  </button>
                )}
              </div>
              {open && <RunDetails runs={runs} run={run} actions={actions} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

/**
 * Open a run's row in the run history and bring it into view (a schedule's fire and a model's
 * version link to their runs); `near` is any element inside the panel.
 */
export async function revealRun(
  model: PipelineModel,
  near: Element | null,
  runId: string
): Promise<void> {
  if (!(await model.runs.reveal(runId))) {
    return;
  }
  requestAnimationFrame(() => {
    const row = near
      ?.closest('.mlops-panel')
      ?.querySelector(`li.mlops-run[data-run="${CSS.escape(runId)}"]`);
    row?.scrollIntoView({ block: 'nearest' });
  });
}
