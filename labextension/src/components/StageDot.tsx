import * as React from 'react';

/** A stage's colour as a dot, before its name in the run's stages and the stage editor. */
export function StageDot(props: { color: string | undefined }): JSX.Element {
  return (
    <span
      className="mlops-dot"
      style={{ background: props.color }}
      aria-hidden="true"
    />
  );
}
