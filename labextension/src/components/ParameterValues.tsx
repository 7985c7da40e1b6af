import * as React from 'react';

import { formatValue } from '../format';

/** `name=value` for each parameter, as a run and a schedule show them. */
export function ParameterValues(props: {
  values: { [name: string]: unknown };
}): JSX.Element {
  return (
    <>
      {Object.entries(props.values).map(([k, v]) => (
        <code key={k}>
          {k}={formatValue(v)}
        </code>
      ))}
    </>
  );
}

/** The "parameters n=3 lr=0.1" line of a run or a schedule; nothing when there are none. */
export function ParameterLine(props: {
  values: { [name: string]: unknown } | null | undefined;
}): JSX.Element | null {
  const values = props.values ?? {};
  if (Object.keys(values).length === 0) {
    return null;
  }
  return (
    <div className="mlops-run-params">
      <span className="mlops-muted">parameters </span>
      <ParameterValues values={values} />
    </div>
  );
}
