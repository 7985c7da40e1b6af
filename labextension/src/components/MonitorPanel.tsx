import * as React from 'react';

import { IModelSummary, IMonitorReport } from '../api';
import { formatTime } from '../format';
import { PipelineModel } from '../model';
import {
  MonitorWindow,
  WINDOWS,
  columnRows,
  driftVerdict,
  errorsText,
  formatMs,
  monitorTarget,
  predictionsLine,
  referenceText
} from '../monitor';

/**
 * What `mlops serve` recorded for each of the notebook's models: traffic, the inputs' drift
 * against the training data, the predictions' shift. Left out while there are no models (the
 * Models section says how to log one).
 */
export function MonitorPanel(props: { model: PipelineModel }): JSX.Element | null {
  const { model } = props;
  const { models } = model;
  if (!models.list.length) {
    return null;
  }
  return (
    <section className="mlops-section mlops-monitor" aria-label="Monitor">
      <h3>
        Monitor
        <span className="mlops-muted">what mlops serve recorded</span>
      </h3>
      <ul>
        {models.list.map(m => (
          <MonitorItem key={m.name} model={model} summary={m} />
        ))}
      </ul>
    </section>
  );
}

function MonitorItem(props: {
  model: PipelineModel;
  summary: IModelSummary;
}): JSX.Element {
  const { model, summary } = props;
  const { monitor } = model;
  const name = summary.name;
  const open = monitor.isOpen(name);
  const target = monitorTarget(summary);
  return (
    <li className="mlops-monitor-model" data-model={name} data-open={open}>
      <div className="mlops-model-head">
        <span className="mlops-model-name">{name}</span>
        <span className="mlops-muted">{target.text}</span>
        <button
          type="button"
          className="jp-mod-styled mlops-monitor-toggle"
          aria-expanded={open}
          title={`Requests, errors, latency and drift of ${name}@${target.alias ?? target.version} as served`}
          onClick={() => void monitor.toggle(name)}
        >
          {open ? 'Hide monitor' : 'Monitor'}
        </button>
      </div>
      {open && <MonitorView model={model} name={name} />}
    </li>
  );
}

function MonitorView(props: { model: PipelineModel; name: string }): JSX.Element {
  const { model, name } = props;
  const { monitor } = model;
  const report = monitor.report(name);
  const loading = monitor.loading(name);
  const id = `mlops-monitor-${name}-window`;
  return (
    <div className="mlops-monitor-view" aria-busy={loading}>
      <div className="mlops-monitor-controls">
        <label htmlFor={id}>window</label>
        <select
          id={id}
          value={monitor.window(name)}
          onChange={e => void monitor.setWindow(name, e.target.value as MonitorWindow)}
        >
          {WINDOWS.map(w => (
            <option key={w.value} value={w.value}>
              {w.label}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="jp-mod-styled mlops-monitor-refresh"
          disabled={loading}
          onClick={() => void monitor.read(name)}
        >
          Refresh
        </button>
        {loading && <span className="mlops-muted">Reading…</span>}
      </div>
      {report && 'requests' in report ? (
        <MonitorReport report={report} />
      ) : report ? (
        <div className="mlops-field-error mlops-monitor-error">{report.text}</div>
      ) : null}
    </div>
  );
}

function MonitorReport(props: { report: IMonitorReport }): JSX.Element {
  const { report } = props;
  const verdict = driftVerdict(report);
  const rows = columnRows(report);
  const predictions = predictionsLine(report.predictions);
  const { since, until } = report.window;
  return (
    <div
      className="mlops-monitor-report"
      data-version={report.version}
      data-window={report.window.seconds}
    >
      <div className="mlops-muted" title={`${since} .. ${until}`}>
        <code>
          {report.model}@{report.version}
        </code>{' '}
        ({report.ref}), {formatTime(since)} – {formatTime(until)}
      </div>
      <dl className="mlops-monitor-stats">
        <dt>requests</dt>
        <dd data-stat="requests">{report.requests}</dd>
        <dt>errors</dt>
        <dd
          data-stat="errors"
          className={report.errors ? 'mlops-monitor-bad' : undefined}
        >
          {errorsText(report)}
        </dd>
        <dt>latency</dt>
        <dd data-stat="latency">
          p50 {formatMs(report.latency_ms.p50)} · p99 {formatMs(report.latency_ms.p99)}
        </dd>
        <dt>inputs</dt>
        <dd data-stat="served-rows">
          {report.served_rows} row{report.served_rows === 1 ? '' : 's'} sampled
        </dd>
        <dt>training data</dt>
        <dd data-stat="reference" title={report.reference?.hash}>
          {referenceText(report)}
        </dd>
      </dl>
      <div
        className={`mlops-monitor-verdict mlops-monitor-${verdict.state}`}
        data-state={verdict.state}
      >
        {verdict.text}
      </div>
      {report.note && (
        <div className="mlops-muted mlops-monitor-note">{report.note}</div>
      )}
      {rows.length > 0 && (
        <table
          className="mlops-table mlops-monitor-columns"
          aria-label={`Drift of the inputs of ${report.model}`}
        >
          <thead>
            <tr>
              <th>column</th>
              <th>test</th>
              <th className="mlops-num">statistic</th>
              <th className="mlops-num">p-value</th>
              <th>drift</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(r => (
              <tr
                key={r.column}
                data-column={r.column}
                data-drift={r.drift}
                className={r.drift ? 'mlops-drifted' : undefined}
                title={r.why}
              >
                <td className="mlops-monitor-column">{r.column}</td>
                <td>{r.test}</td>
                <td className="mlops-num">{r.statistic}</td>
                <td className="mlops-num">{r.pValue}</td>
                <td className="mlops-monitor-drift-cell">{r.verdict}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div
        className="mlops-monitor-predictions"
        data-shift={predictions.shift ?? 'none'}
      >
        <span className="mlops-muted">predictions</span> {predictions.text}
      </div>
    </div>
  );
}
