import * as React from 'react';

import { statusMark } from '../format';

/** A run's or a stage's status: its mark, and its name unless `short` (then a tooltip). */
export function StatusBadge(props: { status: string; short?: boolean }): JSX.Element {
  const { status, short } = props;
  return (
    <span
      className={`mlops-status mlops-status-${status}`}
      data-status={status}
      title={short ? status : undefined}
      aria-label={short ? status : undefined}
    >
      <span aria-hidden="true">{statusMark(status)}</span>
      {short ? null : ` ${status}`}
    </span>
  );
}
