import * as React from 'react';

import { IErrorInfo, IMetrics, IRun } from '../api';
import { formatValue } from '../format';
import { Sparkline } from './Sparkline';

/** A run's metrics: the last value of each, the stage that logged it, and its series. */
export function Metrics(props: {
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
