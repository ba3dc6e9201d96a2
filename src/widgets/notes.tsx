/** The interviewer's private notes: Markdown, autosaved, with a saved / saving / conflict status. */

import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { NotesModel } from '../state/notes';
import { clockTime, useSignals, useTrans } from './common';

/** Renders Markdown (untrusted, sanitised) into a widget: JupyterLab's own renderer. */
export type MarkdownRenderer = (markdown: string) => Promise<Widget>;

function Preview(props: { text: string; render: MarkdownRenderer }): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  // A layout effect: its cleanup runs while the host is still in the page (a widget whose node
  // React already removed cannot be detached).
  React.useLayoutEffect(() => {
    let widget: Widget | null = null;
    let cancelled = false;
    void props.render(props.text).then(rendered => {
      if (cancelled || host.current === null) {
        rendered.dispose();
        return;
      }
      widget = rendered;
      Widget.attach(rendered, host.current);
    });
    return () => {
      cancelled = true;
      if (widget !== null && widget.isAttached && !widget.node.isConnected) {
        return; // gone with its host; nothing holds it any more
      }
      widget?.dispose();
    };
  }, [props.text, props.render]);
  return <div className="jp-Interview-notesPreview" data-testid="ji-notes-rendered" ref={host} />;
}

export function Notes(props: { notes: NotesModel; render?: MarkdownRenderer }): JSX.Element {
  const { notes } = props;
  const trans = useTrans();
  useSignals(notes.changed);
  const [preview, setPreview] = React.useState(false);
  // The contract knows four states; loading shows as saving (not yet settled).
  const status = notes.status === 'loading' ? 'saving' : notes.status;
  const label = {
    saved:
      notes.updatedAt === null
        ? trans.__('Saved')
        : trans.__('Saved at %1', clockTime(notes.updatedAt)),
    saving: notes.status === 'loading' ? trans.__('Loading…') : trans.__('Saving…'),
    conflict: trans.__('Changed in another tab or window'),
    error: trans.__('Not saved: %1', notes.error ?? '')
  }[status];
  return (
    <div className="jp-Interview-notes">
      <div className="jp-Interview-notesBar">
        <p className="jp-Interview-hint">
          {trans.__('Private to you. Markdown. Saved as you type.')}
        </p>
        {props.render !== undefined && (
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-notes-preview"
            aria-pressed={preview}
            onClick={() => setPreview(!preview)}
          >
            {preview ? trans.__('Edit') : trans.__('Preview')}
          </button>
        )}
      </div>
      {preview && props.render !== undefined && <Preview text={notes.text} render={props.render} />}
      <textarea
        hidden={preview}
        className="jp-Interview-notesEditor"
        data-testid="ji-notes-editor"
        aria-label={trans.__('Your notes (Markdown)')}
        value={notes.text}
        disabled={notes.status === 'loading'}
        onChange={event => notes.setText(event.currentTarget.value)}
        onBlur={() => void notes.flush()}
        onKeyDown={event => event.stopPropagation()}
      />
      <div
        className={`jp-Interview-notesStatus jp-mod-${status}`}
        data-testid="ji-notes-status"
        data-status={status}
        role="status"
        aria-live="polite"
      >
        {label}
      </div>
      {notes.status === 'conflict' && (
        <div className="jp-Interview-conflict" role="alert">
          {notes.theirs !== null && (
            <>
              <p>{trans.__('The saved version:')}</p>
              <pre className="jp-Interview-theirs">{notes.theirs}</pre>
            </>
          )}
          <button
            type="button"
            className="jp-Interview-button jp-mod-accept"
            data-testid="ji-notes-keep-mine"
            onClick={() => notes.keepMine()}
          >
            {trans.__('Keep mine')}
          </button>
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-notes-take-theirs"
            disabled={notes.theirs === null}
            onClick={() => notes.takeTheirs()}
          >
            {trans.__('Use the saved version')}
          </button>
        </div>
      )}
    </div>
  );
}
