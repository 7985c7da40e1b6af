import * as React from 'react';

import { PipelineModel } from '../model';
import type { IPanelActions } from '../panel';
import { DiffView } from './DiffView';
import { Graph } from './Graph';
import { ModelsPanel } from './ModelsPanel';
import { MonitorPanel } from './MonitorPanel';
import { ParametersForm } from './ParametersForm';
import { ProblemList } from './ProblemList';
import { RunHistory } from './RunHistory';
import { SchedulePanel } from './SchedulePanel';

/** The whole panel for the active notebook (or a hint, with none open). */
export function PanelBody(props: {
  model: PipelineModel;
  actions: IPanelActions;
}): JSX.Element {
  const { model, actions } = props;
  if (!model.notebook) {
    return (
      <div className="mlops-empty">
        Open a notebook to see its pipeline: tag cells as stages with the stage button
        on each code cell (or <em>Pipeline: Tag Cell as Stage…</em> in the command
        palette).
      </div>
    );
  }
  const { pipeline, runs } = model;
  const explain = pipeline.explain;
  const run = runs.shownRun;
  return (
    <>
      <header className="mlops-head">
        <div className="mlops-title">
          <span className="mlops-notebook" title={model.path ?? ''}>
            {model.notebook.title.label}
          </span>
          {explain && (
            <div className="mlops-muted">
              pipeline <strong>{explain.pipeline}</strong> · version{' '}
              <code>{explain.version}</code>
            </div>
          )}
        </div>
        <div className="mlops-actions">
          <button
            type="button"
            className="jp-mod-styled mlops-compile"
            disabled={!!pipeline.busy}
            onClick={() => void model.compile()}
          >
            {pipeline.busy === 'compile' ? 'Compiling…' : 'Compile'}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept mlops-run-button"
            disabled={!!pipeline.busy}
            onClick={() => void model.run()}
          >
            {pipeline.busy === 'run' ? 'Starting…' : 'Run'}
          </button>
          <button
            type="button"
            className="jp-mod-styled mlops-refresh"
            title="Read the saved notebook, the runs, schedules and models again"
            aria-label="Refresh"
            onClick={() => void model.refresh()}
          >
            ↻
          </button>
        </div>
        {model.dirty && (
          <div className="mlops-muted mlops-dirty">
            Unsaved changes: the graph shows the saved notebook. Compile and Run save
            first.
          </div>
        )}
        {pipeline.compiled?.output && (
          <div className="mlops-muted mlops-compiled">
            Compiled to <code>{pipeline.compiled.output}</code>
          </div>
        )}
      </header>
      <ProblemList model={model} problems={pipeline.problems} />
      {explain && (
        <section className="mlops-section" aria-label="Stage graph">
          <h3>
            Stages <span className="mlops-muted">({explain.stages.length})</span>
            {run && run.pipeline === explain.pipeline && (
              <span
                className="mlops-muted mlops-graph-run"
                title={`Status of run ${run.run_id}`}
              >
                {' '}
                · run …{run.run_id.slice(-6)}
              </span>
            )}
          </h3>
          <div className="mlops-graph-box">
            <Graph explain={explain} run={run} />
          </div>
          {explain.warnings.map(w => (
            <div key={w} className="mlops-muted">
              {w}
            </div>
          ))}
        </section>
      )}
      {!explain && pipeline.loading && (
        <div className="mlops-muted">Reading the notebook…</div>
      )}
      {explain && <ParametersForm pipeline={pipeline} explain={explain} />}
      {runs.diffError && <div className="mlops-field-error">{runs.diffError.text}</div>}
      {runs.diff && <DiffView runs={runs} diff={runs.diff} />}
      <RunHistory model={model} actions={actions} />
      <ModelsPanel model={model} />
      <MonitorPanel model={model} />
      <SchedulePanel model={model} />
    </>
  );
}
