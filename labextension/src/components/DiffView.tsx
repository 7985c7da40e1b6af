import * as React from 'react';

import { IDiff } from '../api';
import { formatValue } from '../format';
import { RunsState } from '../model';

/** What differs between two runs, section by section. */
export function DiffView(props: { runs: RunsState; diff: IDiff }): JSX.Element {
  const { runs, diff } = props;
  const sections = Object.entries(diff).filter(
    ([k, v]) => k !== 'a' && k !== 'b' && v && typeof v === 'object'
  ) as [string, { [name: string]: [unknown, unknown] }][];
  const empty = sections.every(([, v]) => Object.keys(v).length === 0);
  return (
    <section className="mlops-section mlops-diff" aria-label="Run diff">
      <h3>
        Diff
        <button type="button" className="mlops-link" onClick={() => runs.closeDiff()}>
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
