import * as React from 'react';

/** A metric's series as a small line; nothing for fewer than two finite points. */
export function Sparkline(props: { values: number[] }): JSX.Element | null {
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
