/**
 * The Pipeline side panel: stage graph, problems pointing at cells, parameters form, Compile and
 * Run, run history with live stage status, metrics, executed stage notebooks, diff of two runs.
 */

import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import * as React from 'react';

import { IDiff, IErrorInfo, IMetrics, IPipeline, IRun, IStageRun } from './api';
import { layoutGraph } from './graph';
import { ACTIVE, IProblem, PipelineModel } from './model';
import { formatDuration, formatValue } from './paths';
import { stageColors } from './stages';

export interface IPanelActions {
  /** Open the executed notebook of a stage of a run. */
  openStageNotebook(run: IRun, stage: IStageRun): void;
  /** The stage notebook's path relative to the server root, or null when outside it. */
  stagePath(stage: IStageRun): string | null;
}

const STATUS_ICON: { [status: string]: string } = {
  succeeded: '✓',
  cached: '≡',
  failed: '✗',
  running: '◐',
  pending: '○',
  skipped: '–',
  interrupted: '■'
};

function StatusBadge(props: { status: string; short?: boolean }): JSX.Element {
  const { status, short } = props;
  return (
    <span
      className={`mlops-status mlops-status-${status}`}
      data-status={status}
      title={short ? status : undefined}
      aria-label={short ? status : undefined}
    >
      <span aria-hidden="true">{STATUS_ICON[status] ?? '?'}</span>
      {short ? null : ` ${status}`}
    </span>
  );
}

function ProblemList(props: {
  model: PipelineModel;
  problems: IProblem[];
}): JSX.Element | null {
  const { model, problems } = props;
  if (!problems.length) {
    return null;
  }
  return (
    <section className="mlops-section mlops-problems" aria-label="Problems">
      <h3>Problems</h3>
      <ul>
        {problems.map((p, i) => {
          const at = p.cell !== null || p.cell_id ? p : null;
          const where =
            p.cell !== null
              ? `Cell ${p.cell}${p.line !== null ? `, line ${p.line}` : ''}`
              : (p.notebook ?? '');
          return (
            <li key={`${p.source}-${i}`} className="mlops-problem-item">
              {at ? (
                <button
                  type="button"
                  className="mlops-problem-goto"
                  title="Show this cell"
                  onClick={() => void model.gotoCell(p)}
                >
                  <span className="mlops-problem-where">{where}</span>
                  <span className="mlops-problem-message">{p.error}</span>
                </button>
              ) : (
                <div className="mlops-problem-message">{p.text || p.error}</div>
              )}
              {p.hint && <div className="mlops-problem-hint">{p.hint}</div>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Graph(props: { explain: IPipeline; run: IRun | null }): JSX.Element {
  const { explain, run } = props;
  const layout = React.useMemo(() => layoutGraph(explain.stages), [explain]);
  const status = new Map<string, string>();
  if (run && run.pipeline === explain.pipeline) {
    for (const s of run.stages) {
      status.set(s.name, s.status);
    }
  }
  const byName = new Map(explain.stages.map(s => [s.name, s]));
  const colors = stageColors(explain.stages.map(s => s.name));
  return (
    <svg
      className="mlops-graph"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      width={layout.width}
      height={layout.height}
      role="img"
      aria-label={`Stage graph: ${explain.stages.map(s => s.name).join(', ')}`}
    >
      <defs>
        <marker
          id="mlops-arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0,0 L10,5 L0,10 z" className="mlops-arrow" />
        </marker>
      </defs>
      {layout.edges.map(e => (
        <g
          key={`${e.from}->${e.to}`}
          className={'mlops-edge' + (e.explicit ? ' mlops-edge-explicit' : '')}
          data-from={e.from}
          data-to={e.to}
        >
          <title>
            {e.explicit
              ? `${e.to} runs after ${e.from} (after: tag)`
              : `${e.from} → ${e.to}: ${e.variables.join(', ')}`}
          </title>
          <path d={e.path} markerEnd="url(#mlops-arrow)" />
        </g>
      ))}
      {layout.edges
        .filter(e => e.label)
        .map(e => (
          <text
            key={`label-${e.from}->${e.to}`}
            className="mlops-edge-label"
            x={e.labelX}
            y={e.labelY}
            textAnchor="middle"
            dominantBaseline="middle"
          >
            {e.label}
          </text>
        ))}
      {layout.nodes.map(n => {
        const s = status.get(n.name);
        const stage = byName.get(n.name);
        const tip = [
          n.name,
          stage?.inputs.length ? `in: ${stage.inputs.join(', ')}` : '',
          stage?.outputs.length ? `out: ${stage.outputs.join(', ')}` : '',
          stage?.parameters.length ? `parameters: ${stage.parameters.join(', ')}` : '',
          s ? `last run: ${s}` : ''
        ]
          .filter(Boolean)
          .join('\n');
        return (
          <g
            key={n.name}
            className={'mlops-node' + (s ? ` mlops-node-${s}` : '')}
            data-stage={n.name}
            data-status={s ?? ''}
            transform={`translate(${n.x},${n.y})`}
          >
            <title>{tip}</title>
            <rect
              width={n.width}
              height={n.height}
              rx={6}
              style={{ stroke: colors.get(n.name) }}
            />
            <rect
              width={6}
              height={n.height}
              rx={2}
              style={{ fill: colors.get(n.name) }}
            />
            <text x={14} y={n.height / 2} dominantBaseline="central">
              {n.label}
            </text>
            {s && (
              <text
                className="mlops-node-status"
                x={n.width - 8}
                y={n.height / 2}
                textAnchor="end"
                dominantBaseline="central"
              >
                {STATUS_ICON[s] ?? '?'}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}

function ParametersForm(props: {
  model: PipelineModel;
  explain: IPipeline;
}): JSX.Element | null {
  const { model, explain } = props;
  const names = Object.keys(explain.parameters);
  if (!names.length) {
    return null;
  }
  return (
    <section className="mlops-section mlops-parameters" aria-label="Parameters">
      <h3>
        Parameters
        <button
          type="button"
          className="mlops-link"
          onClick={() => model.resetParams()}
          title="Back to the defaults in the notebook"
        >
          reset
        </button>
      </h3>
      <div className="mlops-param-grid">
        {names.map(name => {
          const spec = explain.parameters[name];
          const id = `mlops-param-${name}`;
          const text = model.params[name] ?? '';
          const error = model.paramError(name);
          const input =
            spec.type === 'bool' ? (
              <input
                id={id}
                type="checkbox"
                checked={text === 'true'}
                onChange={e =>
                  model.setParam(name, e.target.checked ? 'true' : 'false')
                }
              />
            ) : (
              <input
                id={id}
                type={spec.type === 'int' || spec.type === 'float' ? 'number' : 'text'}
                step={
                  spec.type === 'int' ? 1 : spec.type === 'float' ? 'any' : undefined
                }
                value={text}
                aria-invalid={!!error}
                aria-describedby={error ? `${id}-error` : undefined}
                onChange={e => model.setParam(name, e.target.value)}
              />
            );
          return (
            <React.Fragment key={name}>
              <label htmlFor={id}>
                {name} <span className="mlops-type">{spec.type}</span>
              </label>
              <div>
                {input}
                {error && (
                  <div id={`${id}-error`} className="mlops-field-error">
                    {error}
                  </div>
                )}
              </div>
            </React.Fragment>
          );
        })}
      </div>
    </section>
  );
}

function Sparkline(props: { values: number[] }): JSX.Element | null {
  const values = props.values.filter(v => Number.isFinite(v));
  if (values.length < 2) {
    return null;
  }
  const min = Math.min(...values);
  const max = Math.max(...values);
  const w = 60;
  const h = 14;
  const pts = values
    .map((v, i) => {
      const x = (i / (values.length - 1)) * w;
      const y = max === min ? h / 2 : h - ((v - min) / (max - min)) * h;
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return (
    <svg
      className="mlops-spark"
      width={w}
      height={h}
      viewBox={`0 0 ${w} ${h}`}
      aria-hidden="true"
    >
      <polyline points={pts} />
    </svg>
  );
}

function Metrics(props: {
  run: IRun;
  series: IMetrics | IErrorInfo | undefined;
}): JSX.Element {
  const { run, series } = props;
  const keys = Object.keys(run.metrics);
  if (series && 'error' in series && typeof series.error === 'string') {
    return <div className="mlops-field-error">{(series as IErrorInfo).text}</div>;
  }
  const points = series as IMetrics | undefined;
  if (!keys.length) {
    return <div className="mlops-muted">No metrics.</div>;
  }
  return (
    <table className="mlops-table mlops-metrics">
      <thead>
        <tr>
          <th>metric</th>
          <th>value</th>
          <th>stage</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {keys.map(key => {
          const list = points?.[key] ?? [];
          const last = list[list.length - 1];
          return (
            <tr key={key}>
              <td>{key}</td>
              <td className="mlops-num">{formatValue(run.metrics[key])}</td>
              <td>{last?.stage ?? ''}</td>
              <td>
                <Sparkline values={list.map(p => p.value ?? NaN)} />
                {list.length > 1 ? (
                  <span className="mlops-muted"> {list.length} pts</span>
                ) : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function RunDetails(props: {
  model: PipelineModel;
  run: IRun;
  actions: IPanelActions;
}): JSX.Element {
  const { model, run, actions } = props;
  const params = Object.entries(run.parameters ?? {});
  const colors = stageColors(run.stages.map(s => s.name));
  return (
    <div className="mlops-run-details">
      {run.error && <div className="mlops-field-error">{run.error}</div>}
      <table className="mlops-table mlops-run-stages">
        <tbody>
          {run.stages.map(s => (
            <tr key={s.name} data-stage={s.name} data-status={s.status}>
              <td className="mlops-stage-name">
                <span
                  className="mlops-dot"
                  style={{ background: colors.get(s.name) }}
                  aria-hidden="true"
                />
                {s.name}
              </td>
              <td>
                <StatusBadge status={s.status} short />
              </td>
              <td className="mlops-num">{formatDuration(s.duration_s)}</td>
              <td>
                {s.notebook && !ACTIVE.has(s.status) && s.status !== 'skipped' ? (
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
      {params.length > 0 && (
        <div className="mlops-run-params">
          <span className="mlops-muted">parameters </span>
          {params.map(([k, v]) => (
            <code key={k}>
              {k}={formatValue(v)}
            </code>
          ))}
        </div>
      )}
      <Metrics run={run} series={model.metrics.get(run.run_id)} />
      <div className="mlops-muted mlops-run-meta">
        run <code>{run.run_id}</code> · {run.pipeline} {run.version}
        {run.origin ? ` · from ${run.origin}` : ''}
      </div>
    </div>
  );
}

function when(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const time = date.toLocaleTimeString(undefined, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit'
  });
  return date.toDateString() === new Date().toDateString()
    ? time
    : `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

function RunHistory(props: {
  model: PipelineModel;
  actions: IPanelActions;
}): JSX.Element {
  const { model, actions } = props;
  return (
    <section className="mlops-section mlops-runs" aria-label="Runs">
      <h3>
        Runs
        <button
          type="button"
          className="mlops-link"
          disabled={model.selected.length !== 2}
          onClick={() => void model.compare()}
          title="Pick two runs with their checkboxes"
        >
          compare {model.selected.length}/2
        </button>
      </h3>
      {model.runsError && (
        <div className="mlops-field-error">{model.runsError.text}</div>
      )}
      {!model.runs.length && !model.runsError && (
        <div className="mlops-muted">No runs of this notebook yet.</div>
      )}
      <ul>
        {model.runs.map(run => {
          const open = model.expanded.has(run.run_id);
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
                  checked={model.selected.includes(run.run_id)}
                  onChange={() => model.toggleSelected(run.run_id)}
                />
                <button
                  type="button"
                  className="mlops-run-toggle"
                  aria-expanded={open}
                  title={`Run ${run.run_id}`}
                  onClick={() => model.toggleExpanded(run.run_id)}
                >
                  <StatusBadge status={run.status} />
                  <span className="mlops-run-when">{when(run.started_at)}</span>
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
              {open && <RunDetails model={model} run={run} actions={actions} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function DiffView(props: { model: PipelineModel; diff: IDiff }): JSX.Element {
  const { model, diff } = props;
  const sections = Object.entries(diff).filter(
    ([k, v]) => k !== 'a' && k !== 'b' && v && typeof v === 'object'
  ) as [string, { [name: string]: [unknown, unknown] }][];
  const empty = sections.every(([, v]) => Object.keys(v).length === 0);
  return (
    <section className="mlops-section mlops-diff" aria-label="Run diff">
      <h3>
        Diff
        <button type="button" className="mlops-link" onClick={() => model.closeDiff()}>
          close
        </button>
      </h3>
      <table className="mlops-table">
        <thead>
          <tr>
            <th />
            <th className="mlops-num" title={`Run ${diff.a}`}>
              …{diff.a.slice(-6)}
            </th>
            <th className="mlops-num" title={`Run ${diff.b}`}>
              …{diff.b.slice(-6)}
            </th>
          </tr>
        </thead>
        <tbody>
          {empty && (
            <tr>
              <td colSpan={3} className="mlops-muted">
                The two runs do not differ.
              </td>
            </tr>
          )}
          {sections
            .filter(([, v]) => Object.keys(v).length)
            .map(([section, values]) => (
              <React.Fragment key={section}>
                <tr className="mlops-diff-section">
                  <th colSpan={3}>{section}</th>
                </tr>
                {Object.entries(values).map(([name, [a, b]]) => (
                  <tr key={`${section}-${name}`}>
                    <td className="mlops-diff-name">{name}</td>
                    <td className="mlops-num">{formatValue(a)}</td>
                    <td className="mlops-num">{formatValue(b)}</td>
                  </tr>
                ))}
              </React.Fragment>
            ))}
        </tbody>
      </table>
    </section>
  );
}

function PanelBody(props: {
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
  const explain = model.explain;
  const run = model.shownRun;
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
            disabled={!!model.busy}
            onClick={() => void model.compile()}
          >
            {model.busy === 'compile' ? 'Compiling…' : 'Compile'}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept mlops-run-button"
            disabled={!!model.busy}
            onClick={() => void model.run()}
          >
            {model.busy === 'run' ? 'Starting…' : 'Run'}
          </button>
          <button
            type="button"
            className="jp-mod-styled mlops-refresh"
            title="Read the saved notebook and the run history again"
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
        {model.compiled?.output && (
          <div className="mlops-muted mlops-compiled">
            Compiled to <code>{model.compiled.output}</code>
          </div>
        )}
      </header>
      <ProblemList model={model} problems={model.problems} />
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
      {!explain && model.loading && (
        <div className="mlops-muted">Reading the notebook…</div>
      )}
      {explain && <ParametersForm model={model} explain={explain} />}
      {model.diffError && (
        <div className="mlops-field-error">{model.diffError.text}</div>
      )}
      {model.diff && <DiffView model={model} diff={model.diff} />}
      <RunHistory model={model} actions={actions} />
    </>
  );
}

export class PipelinePanel extends ReactWidget {
  constructor(
    readonly model: PipelineModel,
    private actions: IPanelActions
  ) {
    super();
    this.id = 'mlops-pipeline-panel';
    this.addClass('mlops-panel');
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <PanelBody model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}
