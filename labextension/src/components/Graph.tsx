import * as React from 'react';

import { IPipeline, IRun } from '../api';
import { statusMark } from '../format';
import { layoutGraph } from '../graph';
import { stageColors } from '../stages';

/** The stage graph, each node marked with its status in `run` when it is of this pipeline. */
export function Graph(props: { explain: IPipeline; run: IRun | null }): JSX.Element {
  const { explain, run } = props;
  const layout = React.useMemo(() => layoutGraph(explain.stages), [explain]);
  const status = new Map<string, string>();
  if (run && run.pipeline === explain.pipeline) {
    for (const s of run.stages) {
      status.set(s.name, s.status);
    }
  }
  const byName = new Map(explain.stages.map(s => [s.name, s]));
  const colors = stageColors(explain.stages.map(s => s.name));
  return (
    <svg
      className="mlops-graph"
      viewBox={`0 0 ${layout.width} ${layout.height}`}
      width={layout.width}
      height={layout.height}
      role="img"
      aria-label={`Stage graph: ${explain.stages.map(s => s.name).join(', ')}`}
    >
      <defs>
        <marker
          id="mlops-arrow"
          viewBox="0 0 10 10"
          refX="9"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto-start-reverse"
        >
          <path d="M0,0 L10,5 L0,10 z" className="mlops-arrow" />
        </marker>
      </defs>
      {layout.edges.map(e => (
        <g
          key={`${e.from}->${e.to}`}
          className={'mlops-edge' + (e.explicit ? ' mlops-edge-explicit' : '')}
          data-from={e.from}
          data-to={e.to}
        >
          <title>
            {e.explicit
              ? `${e.to} runs after ${e.from} (after: tag)`
              : `${e.from} → ${e.to}: ${e.variables.join(', ')}`}
          </title>
          <path d={e.path} markerEnd="url(#mlops-arrow)" />
        </g>
      ))}
      {layout.edges
        .filter(e => e.label)
        .map(e => (
          <text
            key={`label-${e.from}->${e.to}`}
            className="mlops-edge-label"
            x={e.labelX}
            y={e.labelY}
            textAnchor="middle"
            dominantBaseline="middle"
          >
            {e.label}
          </text>
        ))}
      {layout.nodes.map(n => {
        const s = status.get(n.name);
        const stage = byName.get(n.name);
        const tip = [
          n.name,
          stage?.inputs.length ? `in: ${stage.inputs.join(', ')}` : '',
          stage?.outputs.length ? `out: ${stage.outputs.join(', ')}` : '',
          stage?.parameters.length ? `parameters: ${stage.parameters.join(', ')}` : '',
          s ? `last run: ${s}` : ''
        ]
          .filter(Boolean)
          .join('\n');
        return (
          <g
            key={n.name}
            className={'mlops-node' + (s ? ` mlops-node-${s}` : '')}
            data-stage={n.name}
            data-status={s ?? ''}
            transform={`translate(${n.x},${n.y})`}
          >
            <title>{tip}</title>
            <rect
              width={n.width}
              height={n.height}
              rx={6}
              style={{ stroke: colors.get(n.name) }}
            />
            <rect
              width={6}
              height={n.height}
              rx={2}
              style={{ fill: colors.get(n.name) }}
            />
            <text x={14} y={n.height / 2} dominantBaseline="central">
              {n.label}
            </text>
            {s && (
              <text
                className="mlops-node-status"
                x={n.width - 8}
                y={n.height / 2}
                textAnchor="end"
                dominantBaseline="central"
              >
                {statusMark(s)}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
