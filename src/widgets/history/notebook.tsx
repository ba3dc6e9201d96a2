/** A notebook shown read-only (a snapshot, a moment of the replay): sources as text, safe outputs. */

import * as React from 'react';

import type { ICell, INotebook, IOutput } from '../../state/history';
import { useTrans } from '../common';
import { outputShape, sourceText } from './logic';

/** One output: text, an error, or a PNG/JPEG image; never HTML. */
export function OutputView(props: { output: IOutput }): JSX.Element {
  const shape = outputShape(props.output);
  switch (shape.kind) {
    case 'image':
      return (
        <img
          className="jp-InterviewHistory-image"
          data-output-type={props.output.output_type}
          src={`data:${shape.mime};base64,${shape.data}`}
          alt={shape.alt}
        />
      );
    case 'stream':
      return (
        <pre
          className={`jp-InterviewHistory-outputText jp-mod-${shape.name === 'stderr' ? 'stderr' : 'stdout'}`}
          data-output-type="stream"
        >
          {shape.text}
        </pre>
      );
    case 'error':
      return (
        <pre className="jp-InterviewHistory-outputText jp-mod-error" data-output-type="error">
          {shape.text}
        </pre>
      );
    default:
      return (
        <pre
          className={`jp-InterviewHistory-outputText${shape.kind === 'other' ? ' jp-mod-other' : ''}`}
          data-output-type={props.output.output_type}
        >
          {shape.text}
        </pre>
      );
  }
}

export function OutputsView(props: { outputs: ReadonlyArray<IOutput>; testid?: string }): JSX.Element {
  return (
    <div className="jp-InterviewHistory-outputs" data-testid={props.testid}>
      {props.outputs.map((output, i) => (
        <OutputView key={i} output={output} />
      ))}
    </div>
  );
}

export interface ICellViewProps {
  cell: ICell;
  index: number;
  /** Test id prefix: `ji-replay` gives `ji-replay-cell`, `ji-replay-source`, `ji-replay-output`. */
  prefix: string;
  /** A class for the cell (running, just edited). */
  className?: string;
  note?: React.ReactNode;
}

export function CellView(props: ICellViewProps): JSX.Element {
  const { cell, prefix } = props;
  const trans = useTrans();
  const code = cell.cell_type === 'code';
  const count = code ? (cell.execution_count ?? null) : null;
  const classes = ['jp-InterviewHistory-cell', `jp-mod-${cell.cell_type}`];
  if (props.className) {
    classes.push(props.className);
  }
  return (
    <div
      className={classes.join(' ')}
      data-testid={`${prefix}-cell`}
      data-cell-id={cell.id ?? ''}
      data-cell-type={cell.cell_type}
      role="group"
      aria-label={trans.__('Cell %1 (%2)', props.index + 1, cell.cell_type)}
    >
      <div className="jp-InterviewHistory-prompt" aria-hidden="true">
        {code ? `[${count ?? ' '}]` : cell.cell_type === 'markdown' ? 'md' : ''}
      </div>
      <div className="jp-InterviewHistory-cellBody">
        <pre className="jp-InterviewHistory-source" data-testid={`${prefix}-source`}>
          {sourceText(cell)}
        </pre>
        {props.note}
        {code && <OutputsView outputs={cell.outputs ?? []} testid={`${prefix}-output`} />}
      </div>
    </div>
  );
}

export interface INotebookViewProps {
  notebook: INotebook;
  prefix: string;
  label: string;
  /** Extra class and note per cell id (the replay marks cells being executed). */
  decorate?: (cell: ICell) => { className?: string; note?: React.ReactNode } | null;
}

export function NotebookView(props: INotebookViewProps): JSX.Element {
  const trans = useTrans();
  const { notebook } = props;
  return (
    <div className="jp-InterviewHistory-notebook" role="region" aria-label={props.label}>
      {notebook.cells.length === 0 && (
        <p className="jp-InterviewHistory-empty">{trans.__('The notebook has no cells.')}</p>
      )}
      {notebook.cells.map((cell, i) => {
        const extra = props.decorate?.(cell) ?? null;
        return (
          <CellView
            key={`${cell.id ?? ''}:${i}`}
            cell={cell}
            index={i}
            prefix={props.prefix}
            className={extra?.className}
            note={extra?.note}
          />
        );
      })}
    </div>
  );
}
