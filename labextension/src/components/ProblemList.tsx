import * as React from 'react';

import { IProblem, PipelineModel } from '../model';

/** The problems of the tags and of the server's answers; those with a cell link to it. */
export function ProblemList(props: {
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
