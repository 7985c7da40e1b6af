import * as React from 'react';

import { IRun } from '../api';
import { formatDuration } from '../format';
import { RunsState } from '../model';
import type { IPanelActions } from '../panel';
import { stageColors } from '../stages';
import { ACTIVE, StageStatus } from '../status';
import { Metrics } from './Metrics';
import { ParameterLine } from './ParameterValues';
import { StageDot } from './StageDot';
import { StatusBadge } from './StatusBadge';

const SKIPPED: StageStatus = 'skipped';

/** An open run's row: its stages (with their executed notebooks), errors, parameters, metrics. */
export function RunDetails(props: {
  runs: RunsState;
  run: IRun;
  actions: IPanelActions;
}): JSX.Element {
  const { runs, run, actions } = props;
  const colors = stageColors(run.stages.map(s => s.name));
  return (
    <div className="mlops-run-details">
      {run.error && <div className="mlops-field-error">{run.error}</div>}
      <table className="mlops-table mlops-run-stages">
        <tbody>
          {run.stages.map(s => (
            <tr key={s.name} data-stage={s.name} data-status={s.status}>
              <td className="mlops-stage-name">
                <StageDot color={colors.get(s.name)} />
                {s.name}
              </td>
              <td>
                <StatusBadge status={s.status} short />
              </td>
              <td className="mlops-num">{formatDuration(s.duration_s)}</td>
              <td>
                {s.notebook && !ACTIVE.has(s.status) && s.status !== SKIPPED ? (
                  <button
                    type="button"
                    className="mlops-link mlops-open-notebook"
                    title={`Open the executed notebook: ${s.path ?? s.notebook}`}
                    onClick={() => actions.openStageNotebook(run, s)}
                  >
                    open
                  </button>
                ) : null}
                {s.notebook && actions.stagePath(s) === null ? (
                  <code className="mlops-path" title="outside the server's root folder">
                    {s.notebook}
                  </code>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {run.stages
        .filter(s => s.error)
        .map(s => (
          <div key={s.name} className="mlops-field-error">
            {s.name}: {s.error}
          </div>
        ))}
      <ParameterLine values={run.parameters} />
      <Metrics run={run} series={runs.metrics.get(run.run_id)} />
      <div className="mlops-muted mlops-run-meta">
        run <code>{run.run_id}</code> · {run.pipeline} {run.version}
        {run.origin ? ` · from ${run.origin}` : ''}
      </div>
    </div>
  );
}
