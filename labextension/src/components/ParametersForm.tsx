import * as React from 'react';

import { IPipeline } from '../api';
import { PipelineState } from '../model';

/** A field for each parameter of the pipeline, checked as typed. */
export function ParametersForm(props: {
  pipeline: PipelineState;
  explain: IPipeline;
}): JSX.Element | null {
  const { pipeline, explain } = props;
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
          onClick={() => pipeline.resetParams()}
          title="Back to the defaults in the notebook"
        >
          reset
        </button>
      </h3>
      <div className="mlops-param-grid">
        {names.map(name => {
          const spec = explain.parameters[name];
          const id = `mlops-param-${name}`;
          const text = pipeline.params[name] ?? '';
          const error = pipeline.paramError(name);
          const input =
            spec.type === 'bool' ? (
              <input
                id={id}
                type="checkbox"
                checked={text === 'true'}
                onChange={e =>
                  pipeline.setParam(name, e.target.checked ? 'true' : 'false')
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
                onChange={e => pipeline.setParam(name, e.target.value)}
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
