import * as React from 'react';

import { IAliasResult, IModel, IModelSummary, IModelVersion } from '../api';
import { formatTime, formatValue } from '../format';
import { PipelineModel } from '../model';
import {
  aliasError,
  bestVersions,
  failureReason,
  lowerIsBetter,
  metricKeys,
  promotionOutcome,
  varyingParameters
} from '../models';
import { revealRun } from './RunHistory';
import { StatusBadge } from './StatusBadge';

/** The models the notebook's runs logged: each one's versions and a form promoting one. */
export function ModelsPanel(props: { model: PipelineModel }): JSX.Element {
  const { model } = props;
  const { models } = model;
  const section = React.useRef<HTMLElement>(null);
  const showRun = (runId: string): Promise<void> =>
    revealRun(model, section.current, runId);

  return (
    <section ref={section} className="mlops-section mlops-models" aria-label="Models">
      <h3>
        Models
        {models.list.length > 0 && (
          <span className="mlops-muted">({models.list.length})</span>
        )}
      </h3>
      {models.error && <div className="mlops-field-error">{models.error.text}</div>}
      {!models.list.length && !models.error && !models.loading && (
        <div className="mlops-muted">
          No models logged by this notebook&apos;s runs yet: a stage logs one with{' '}
          <code>mlops.log_model(model, &quot;NAME&quot;, example=X[:5])</code>.
        </div>
      )}
      <ul>
        {models.list.map(m => (
          <ModelItem key={m.name} model={model} summary={m} showRun={showRun} />
        ))}
      </ul>
    </section>
  );
}

function ModelItem(props: {
  model: PipelineModel;
  summary: IModelSummary;
  showRun: (runId: string) => Promise<void>;
}): JSX.Element {
  const { model, summary, showRun } = props;
  const detail = model.models.detail(summary.name);
  return (
    <li className="mlops-model" data-model={summary.name}>
      <div className="mlops-model-head">
        <span className="mlops-model-name">{summary.name}</span>
        <span className="mlops-muted">
          {summary.versions} version{summary.versions === 1 ? '' : 's'} · latest{' '}
          {summary.latest}
        </span>
      </div>
      {detail && 'versions' in detail ? (
        <>
          <VersionTable model={detail} showRun={showRun} />
          <PromoteForm model={model} detail={detail} />
        </>
      ) : detail ? (
        <div className="mlops-field-error">{detail.text}</div>
      ) : null}
    </li>
  );
}

/** A row per version, newest first; the best value of each metric is marked. */
function VersionTable(props: {
  model: IModel;
  showRun: (runId: string) => Promise<void>;
}): JSX.Element {
  const { model, showRun } = props;
  const versions = model.versions;
  const params = varyingParameters(versions);
  const keys = metricKeys(versions);
  const best = new Map(keys.map(k => [k, bestVersions(versions, k)]));
  return (
    <table
      className="mlops-table mlops-model-versions"
      aria-label={`Versions of ${model.name}`}
    >
      <thead>
        <tr>
          <th>version</th>
          {params.map(p => (
            <th key={`p-${p}`} className="mlops-num">
              {p}
            </th>
          ))}
          {keys.map(k => (
            <th
              key={`m-${k}`}
              className="mlops-num"
              title={`best = ${lowerIsBetter(k) ? 'lowest' : 'highest'}`}
            >
              {k} {lowerIsBetter(k) ? '↓' : '↑'}
            </th>
          ))}
          <th>run</th>
          <th>created</th>
        </tr>
      </thead>
      <tbody>
        {versions.map(v => (
          <tr key={v.version} data-version={v.version}>
            <td className="mlops-model-version">
              <code>{v.version}</code>
              {v.aliases.map(a => (
                <span key={a} className="mlops-alias" data-alias={a}>
                  {a}
                </span>
              ))}
            </td>
            {params.map(p => (
              <td key={`p-${p}`} className="mlops-num">
                {formatValue(v.parameters[p])}
              </td>
            ))}
            {keys.map(k => {
              const isBest = best.get(k)!.has(v.version);
              return (
                <td
                  key={`m-${k}`}
                  className={'mlops-num' + (isBest ? ' mlops-best' : '')}
                  data-metric={k}
                  title={isBest ? `the best ${k} of ${model.name}` : undefined}
                >
                  {formatValue(v.metrics[k])}
                </td>
              );
            })}
            <td className="mlops-model-run">
              <RunCell version={v} showRun={showRun} />
            </td>
            <td className="mlops-muted" title={v.created_at ?? ''}>
              {formatTime(v.created_at)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RunCell(props: {
  version: IModelVersion;
  showRun: (runId: string) => Promise<void>;
}): JSX.Element {
  const { version: v, showRun } = props;
  const stage = v.stage ? `, stage ${v.stage}` : '';
  if (v.run_status === null) {
    return (
      <span
        className="mlops-muted"
        title={`run ${v.run_id}${stage}: its record was removed`}
      >
        …{v.run_id.slice(-6)}
      </span>
    );
  }
  return (
    <>
      <StatusBadge status={v.run_status} short />{' '}
      <button
        type="button"
        className="mlops-link"
        title={`Show run ${v.run_id}${stage} in the run history`}
        onClick={() => void showRun(v.run_id)}
      >
        …{v.run_id.slice(-6)}
      </button>
    </>
  );
}

function PromoteForm(props: { model: PipelineModel; detail: IModel }): JSX.Element {
  const { model, detail } = props;
  const { models } = model;
  const name = detail.name;
  const form = models.form(name);
  const promoting = models.promoting(name);
  const error = models.promoteError(name);
  const result = models.result(name);
  const aliasProblem = aliasError(form.alias.trim());
  const id = (field: string): string => `mlops-model-${name}-${field}`;
  const newest = detail.versions[0]?.version;

  return (
    <form
      className="mlops-promote-form"
      aria-label={`Promote a version of ${name}`}
      onSubmit={e => {
        e.preventDefault();
        void models.promote(name);
      }}
    >
      <h4>Promote a version</h4>
      <div className="mlops-param-grid">
        <label htmlFor={id('version')}>version</label>
        <select
          id={id('version')}
          value={form.version || String(newest ?? '')}
          onChange={e => models.setField(name, 'version', e.target.value)}
        >
          {detail.versions.map(v => (
            <option key={v.version} value={String(v.version)}>
              {v.version}
              {v.aliases.length ? ` (${v.aliases.join(', ')})` : ''}
            </option>
          ))}
        </select>
        <label htmlFor={id('alias')}>alias</label>
        <div>
          <input
            id={id('alias')}
            type="text"
            autoComplete="off"
            spellCheck={false}
            list={id('aliases')}
            value={form.alias}
            aria-invalid={!!aliasProblem}
            onChange={e => models.setField(name, 'alias', e.target.value)}
          />
          <datalist id={id('aliases')}>
            {Object.keys(detail.aliases).map(a => (
              <option key={a} value={a} />
            ))}
          </datalist>
          {aliasProblem && <div className="mlops-field-error">{aliasProblem}</div>}
        </div>
        <label htmlFor={id('require')}>require</label>
        <textarea
          id={id('require')}
          rows={2}
          spellCheck={false}
          placeholder={'accuracy>=+0.01\nrmse<=0.5'}
          title={
            'One a line: rmse<=0.5 (a threshold), accuracy>=+0.01 (a change from the ' +
            "alias's version), accuracy>=+2% (a relative change)"
          }
          value={form.require}
          onChange={e => models.setField(name, 'require', e.target.value)}
        />
        <label htmlFor={id('reason')}>reason</label>
        <input
          id={id('reason')}
          type="text"
          autoComplete="off"
          placeholder="optional, recorded with the move"
          value={form.reason}
          onChange={e => models.setField(name, 'reason', e.target.value)}
        />
      </div>
      <div className="mlops-promote-buttons">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={promoting}
          title="Moves the alias only if the version's run succeeded and every requirement holds"
        >
          {promoting ? 'Promoting…' : 'Promote'}
        </button>
      </div>
      {error && (
        <div className="mlops-field-error mlops-promote-error">{error.text}</div>
      )}
      {result && <PromotionResult result={result} />}
    </form>
  );
}

function PromotionResult(props: { result: IAliasResult }): JSX.Element {
  const outcome = promotionOutcome(props.result);
  return (
    <div
      className={`mlops-promote-result mlops-promote-${outcome.state}`}
      data-state={outcome.state}
      role="status"
    >
      <div className="mlops-promote-text">{outcome.text}</div>
      {outcome.failed.length > 0 && (
        <table
          className="mlops-table mlops-requirements"
          aria-label="Requirements not met"
        >
          <thead>
            <tr>
              <th>requirement</th>
              <th className="mlops-num">candidate</th>
              <th className="mlops-num">baseline</th>
              <th>required</th>
            </tr>
          </thead>
          {outcome.failed.map((row, i) => (
            <tbody key={i} data-requirement={row.requirement}>
              <tr>
                <td className="mlops-requirement">{row.requirement}</td>
                <td className="mlops-num">{formatValue(row.candidate)}</td>
                <td className="mlops-num">{formatValue(row.baseline)}</td>
                <td>{row.required}</td>
              </tr>
              <tr className="mlops-requirement-why">
                <td colSpan={4}>{failureReason(row)}</td>
              </tr>
            </tbody>
          ))}
        </table>
      )}
    </div>
  );
}
