/**
 * The History view (interviewers and the owner): the room's snapshots, a labelled checkpoint, one
 * snapshot read-only, its cell-by-cell diff against the live notebook or another snapshot, and
 * Restore (confirmed) with Undo.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { HistoryModel, ISnapshot, SnapshotKind } from '../../state/history';
import { TransContext, useSignals, useTrans } from '../common';
import { historyIcon } from './icons';
import {
  IDiffLine,
  IDiffRow,
  dateTime,
  diffCounts,
  diffRows,
  formatBytes,
  timeOfDay
} from './logic';
import { NotebookView, OutputsView } from './notebook';

function kindLabel(trans: TranslationBundle, kind: SnapshotKind): string {
  return {
    auto: trans.__('auto'),
    execution: trans.__('after a run'),
    checkpoint: trans.__('checkpoint'),
    restore: trans.__('before a restore')
  }[kind];
}

function authorsText(snapshot: ISnapshot): string {
  return snapshot.authors.map(a => a.name ?? a.id).join(', ');
}

function snapshotName(trans: TranslationBundle, snapshot: ISnapshot | undefined, sid: string): string {
  if (snapshot === undefined) {
    return trans.__('snapshot %1', sid);
  }
  const label = snapshot.label ? ` “${snapshot.label}”` : '';
  return trans.__('snapshot %1 of %2%3', sid, timeOfDay(snapshot.t), label);
}

function Checkpoint(props: { model: HistoryModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const [label, setLabel] = React.useState('');
  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const made = await model.checkpoint(label);
    if (made !== null) {
      setLabel('');
    }
  };
  return (
    <form className="jp-InterviewHistory-checkpoint" onSubmit={event => void submit(event)}>
      <input
        type="text"
        className="jp-InterviewHistory-input"
        data-testid="ji-checkpoint-label"
        aria-label={trans.__('Checkpoint label')}
        placeholder={trans.__('Label, e.g. “first working version”')}
        maxLength={200}
        value={label}
        onChange={event => setLabel(event.currentTarget.value)}
        onKeyDown={event => event.stopPropagation()}
      />
      <button
        type="submit"
        className="jp-Interview-button jp-mod-accept"
        data-testid="ji-checkpoint"
        disabled={model.busy !== null}
        title={trans.__('Keep the notebook as it is now, with this label')}
      >
        {trans.__('Checkpoint')}
      </button>
    </form>
  );
}

/** What just happened (checkpoint, restore, undo) or went wrong, and Undo after a restore. */
function StatusLine(props: { model: HistoryModel }): JSX.Element | null {
  const { model } = props;
  const trans = useTrans();
  const notice = model.notice;
  let text: string | null = null;
  if (notice !== null) {
    const [what, sid] = notice.split(':');
    const snapshot = model.snapshots.find(s => s.id === sid);
    text = {
      checkpoint: trans.__('Checkpoint saved: %1.', snapshotName(trans, snapshot, sid)),
      restored: trans.__('Restored %1 for everyone.', snapshotName(trans, snapshot, sid)),
      undone: trans.__('The restore of %1 was undone.', snapshotName(trans, snapshot, sid))
    }[what] ?? null;
  }
  if (text === null && model.error === null && model.lastRestore === null) {
    return null;
  }
  return (
    <div className="jp-InterviewHistory-status" role="status" aria-live="polite">
      {text !== null && <span data-testid="ji-history-notice">{text}</span>}
      {model.error !== null && (
        <span className="jp-InterviewHistory-error" data-testid="ji-history-error" role="alert">
          {model.error}
        </span>
      )}
      {model.lastRestore !== null && (
        <button
          type="button"
          className="jp-Interview-button"
          data-testid="ji-undo-restore"
          disabled={model.busy !== null}
          title={trans.__('Put the notebook back as it was before the restore (what was typed since stays)')}
          onClick={() => void model.undoRestore()}
        >
          {trans.__('Undo restore')}
        </button>
      )}
      <button
        type="button"
        className="jp-InterviewHistory-dismiss"
        aria-label={trans.__('Dismiss')}
        onClick={() => model.dismiss()}
      >
        ×
      </button>
    </div>
  );
}

function SnapshotList(props: { model: HistoryModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const rows = React.useRef<Array<HTMLTableRowElement | null>>([]);
  const snapshots = model.snapshots;
  const selectedIndex = snapshots.findIndex(s => s.id === model.selected);
  const focusable = selectedIndex >= 0 ? selectedIndex : 0;
  const onKey = (event: React.KeyboardEvent, i: number): void => {
    let next = -1;
    if (event.key === 'ArrowDown') {
      next = Math.min(snapshots.length - 1, i + 1);
    } else if (event.key === 'ArrowUp') {
      next = Math.max(0, i - 1);
    } else if (event.key === 'Home') {
      next = 0;
    } else if (event.key === 'End') {
      next = snapshots.length - 1;
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      void model.select(snapshots[i].id);
      return;
    }
    if (next >= 0) {
      event.preventDefault();
      void model.select(snapshots[next].id);
      rows.current[next]?.focus();
    }
  };
  if (snapshots.length === 0) {
    return (
      <p className="jp-InterviewHistory-empty">
        {model.loading ? trans.__('Loading…') : trans.__('No snapshots yet.')}
      </p>
    );
  }
  return (
    <table
      className="jp-InterviewHistory-list"
      role="grid"
      aria-readonly="true"
      aria-label={trans.__('Snapshots, newest first')}
    >
      <thead>
        <tr>
          <th scope="col">{trans.__('Time')}</th>
          <th scope="col">{trans.__('Snapshot')}</th>
          <th scope="col">{trans.__('Size')}</th>
        </tr>
      </thead>
      <tbody>
        {snapshots.map((s, i) => (
          <tr
            key={s.id}
            ref={el => {
              rows.current[i] = el;
            }}
            className={`jp-InterviewHistory-row${s.id === model.selected ? ' jp-mod-selected' : ''}`}
            data-testid="ji-snapshot-row"
            data-sid={s.id}
            data-kind={s.kind}
            tabIndex={i === focusable ? 0 : -1}
            aria-selected={s.id === model.selected}
            title={dateTime(s.t)}
            onClick={() => void model.select(s.id)}
            onKeyDown={event => onKey(event, i)}
          >
            <td>{timeOfDay(s.t)}</td>
            <td>
              <div className="jp-InterviewHistory-what">
                <span className={`jp-InterviewHistory-kind jp-mod-${s.kind}`}>{kindLabel(trans, s.kind)}</span>
                {s.label && <span className="jp-InterviewHistory-label">{s.label}</span>}
              </div>
              {s.authors.length > 0 && (
                <div className="jp-InterviewHistory-authors" title={trans.__('Who edited since the snapshot before')}>
                  {trans.__('by %1', authorsText(s))}
                </div>
              )}
            </td>
            <td title={trans.__('%1 cells; %2 added to the store', s.cells, formatBytes(s.stored))}>
              {formatBytes(s.size)}
              {s.capped && (
                <span
                  className="jp-InterviewHistory-capped"
                  title={trans.__('Some outputs were cut to keep the snapshot small')}
                >
                  {' ✂'}
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Lines(props: { lines: IDiffLine[] }): JSX.Element {
  const trans = useTrans();
  return (
    <pre className="jp-InterviewHistory-lines">
      {props.lines.map((line, i) =>
        line.kind === 'skip' ? (
          <div key={i} className="jp-InterviewHistory-line jp-mod-skip">
            {trans._n('… %1 unchanged line', '… %1 unchanged lines', line.count ?? 0)}
          </div>
        ) : (
          <div key={i} className={`jp-InterviewHistory-line jp-mod-${line.kind}`} data-kind={line.kind}>
            <span className="jp-InterviewHistory-sign" aria-hidden="true">
              {line.kind === 'added' ? '+' : line.kind === 'removed' ? '−' : ' '}
            </span>
            <span className="jp-InterviewHistory-visuallyHidden">
              {line.kind === 'added' ? trans.__('added: ') : line.kind === 'removed' ? trans.__('removed: ') : ''}
            </span>
            {line.text.replace(/\r?\n$/, '')}
          </div>
        )
      )}
    </pre>
  );
}

function DiffRow(props: { row: IDiffRow }): JSX.Element {
  const { row } = props;
  const trans = useTrans();
  const status = {
    added: trans.__('added'),
    removed: trans.__('removed'),
    modified: trans.__('modified'),
    unchanged: trans.__('unchanged')
  }[row.status];
  const position =
    row.bIndex !== null ? trans.__('cell %1', row.bIndex + 1) : trans.__('was cell %1', (row.aIndex ?? 0) + 1);
  return (
    <div
      className={`jp-InterviewHistory-diffCell jp-mod-${row.status}`}
      data-testid="ji-diff-cell"
      data-status={row.status}
      data-cell-id={row.cellId ?? ''}
      role="group"
      aria-label={`${position}: ${status}`}
    >
      <div className="jp-InterviewHistory-diffHead">
        <span className={`jp-InterviewHistory-badge jp-mod-${row.status}`}>{status}</span>
        <span>{position}</span>
        <span className="jp-InterviewHistory-muted">{row.cellType ?? ''}</span>
        {row.changed.length > 0 && (
          <span className="jp-InterviewHistory-muted">
            {trans.__('changed: %1', row.changed.join(', '))}
          </span>
        )}
      </div>
      {row.lines.length > 0 && <Lines lines={row.lines} />}
      {row.outputs !== null && (
        <div className="jp-InterviewHistory-outputsDiff" data-testid="ji-diff-outputs">
          <div>
            <div className="jp-InterviewHistory-muted">{trans.__('Outputs before')}</div>
            <OutputsView outputs={row.outputs.before} />
          </div>
          <div>
            <div className="jp-InterviewHistory-muted">{trans.__('Outputs after')}</div>
            <OutputsView outputs={row.outputs.after} />
          </div>
        </div>
      )}
    </div>
  );
}

function DiffView(props: { model: HistoryModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const [showUnchanged, setShowUnchanged] = React.useState(false);
  const diff = model.diff;
  const a = model.detail?.snapshot.id === model.selected ? (model.detail?.notebook ?? null) : null;
  const rows = React.useMemo(() => (diff === null ? [] : diffRows(diff, a)), [diff, a]);
  if (diff === null) {
    return <p className="jp-InterviewHistory-empty">{trans.__('Comparing…')}</p>;
  }
  const counts = diffCounts(rows);
  const other =
    diff.b.id === 'current'
      ? trans.__('the notebook now')
      : snapshotName(trans, model.snapshots.find(s => s.id === diff.b.id), diff.b.id);
  const shown = rows.filter(r => showUnchanged || r.status !== 'unchanged');
  return (
    <div
      className="jp-InterviewHistory-diff"
      data-testid="ji-diff-view"
      data-a={diff.a.id}
      data-b={diff.b.id}
      role="region"
      aria-label={trans.__('Differences')}
    >
      <p className="jp-InterviewHistory-summary">
        {trans.__(
          'From %1 to %2: %3 added, %4 removed, %5 modified, %6 unchanged cells.',
          snapshotName(trans, diff.a, diff.a.id),
          other,
          counts.added,
          counts.removed,
          counts.modified,
          counts.unchanged
        )}
      </p>
      <label className="jp-InterviewHistory-check">
        <input
          type="checkbox"
          checked={showUnchanged}
          onChange={event => setShowUnchanged(event.currentTarget.checked)}
        />
        {trans.__('Show unchanged cells')}
      </label>
      {shown.length === 0 && <p className="jp-InterviewHistory-empty">{trans.__('No differences.')}</p>}
      {shown.map((row, i) => (
        <DiffRow key={`${row.cellId ?? ''}:${row.aIndex ?? ''}:${row.bIndex ?? ''}:${i}`} row={row} />
      ))}
    </div>
  );
}

function Detail(props: { model: HistoryModel; trans: TranslationBundle }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  const sid = model.selected;
  if (sid === null) {
    return (
      <p className="jp-InterviewHistory-empty">
        {trans.__('Pick a snapshot to see it, compare it or restore it.')}
      </p>
    );
  }
  const snapshot = model.snapshots.find(s => s.id === sid);
  const restore = async (): Promise<void> => {
    const answer = await showDialog({
      title: trans.__('Restore this snapshot?'),
      body: trans.__(
        'The notebook becomes %1 for everyone in the room. The notebook as it is now is kept as a snapshot first, and Undo puts it back.',
        snapshotName(trans, snapshot, sid)
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Restore') })
      ]
    });
    if (answer.button.accept) {
      await model.restore(sid);
    }
  };
  const others = model.snapshots.filter(s => s.id !== sid);
  return (
    <>
      <div className="jp-InterviewHistory-detailBar">
        <div className="jp-InterviewHistory-modes" role="group" aria-label={trans.__('Show')}>
          <button
            type="button"
            className={`jp-Interview-button${model.mode === 'view' ? ' jp-mod-pressed' : ''}`}
            data-testid="ji-snapshot-mode-view"
            aria-pressed={model.mode === 'view'}
            onClick={() => void model.setMode('view')}
          >
            {trans.__('View')}
          </button>
          <button
            type="button"
            className={`jp-Interview-button${model.mode === 'diff' ? ' jp-mod-pressed' : ''}`}
            data-testid="ji-snapshot-mode-diff"
            aria-pressed={model.mode === 'diff'}
            onClick={() => void model.setMode('diff')}
          >
            {trans.__('Compare')}
          </button>
        </div>
        {model.mode === 'diff' && (
          <label className="jp-InterviewHistory-against">
            {trans.__('with')}
            <select
              data-testid="ji-diff-against"
              value={model.against}
              onChange={event => void model.setAgainst(event.currentTarget.value)}
            >
              <option value="current">{trans.__('the notebook now')}</option>
              {others.map(s => (
                <option key={s.id} value={s.id}>
                  {snapshotName(trans, s, s.id)}
                </option>
              ))}
            </select>
          </label>
        )}
        <button
          type="button"
          className="jp-Interview-button jp-mod-reject"
          data-testid="ji-restore"
          disabled={model.busy !== null}
          title={trans.__('Make the notebook this snapshot again, for everyone (can be undone)')}
          onClick={() => void restore()}
        >
          {trans.__('Restore…')}
        </button>
      </div>
      {model.mode === 'view' &&
        (model.detail !== null && model.detail.snapshot.id === sid ? (
          <div
            className="jp-InterviewHistory-view"
            data-testid="ji-snapshot-view"
            data-sid={sid}
          >
            <p className="jp-InterviewHistory-summary">
              {snapshotName(trans, model.detail.snapshot, sid)}
              {' · '}
              {kindLabel(trans, model.detail.snapshot.kind)}
              {model.detail.snapshot.authors.length > 0 &&
                ` · ${trans.__('by %1', authorsText(model.detail.snapshot))}`}
            </p>
            <NotebookView
              notebook={model.detail.notebook}
              prefix="ji-snapshot"
              label={trans.__('The notebook as it was then (read-only)')}
            />
          </div>
        ) : (
          <p className="jp-InterviewHistory-empty">{trans.__('Loading…')}</p>
        ))}
      {model.mode === 'diff' && <DiffView model={model} />}
    </>
  );
}

function HistoryView(props: {
  model: HistoryModel;
  trans: TranslationBundle;
  openReplay?: () => void;
}): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  useSignals(model.changed);
  const used = model.usage.snapshots ?? 0;
  return (
    <div className="jp-InterviewHistory" data-testid="ji-history" aria-label={trans.__('Version history')}>
      <header className="jp-InterviewHistory-header">
        <h2 className="jp-InterviewHistory-title">{trans.__('Version history')}</h2>
        <span
          className="jp-InterviewHistory-muted"
          title={trans.__('Snapshots of this room in the store, and the most they may take')}
        >
          {model.maxRoomBytes > 0 &&
            trans.__('%1 of %2', formatBytes(used), formatBytes(model.maxRoomBytes))}
        </span>
        <button
          type="button"
          className="jp-Interview-button"
          data-testid="ji-history-refresh"
          disabled={model.loading}
          onClick={() => void model.refresh()}
        >
          {trans.__('Refresh')}
        </button>
        {props.openReplay !== undefined && (
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-history-open-replay"
            onClick={props.openReplay}
          >
            {trans.__('Session replay')}
          </button>
        )}
        <Checkpoint model={model} />
      </header>
      <StatusLine model={model} />
      <div className="jp-InterviewHistory-body">
        <div className="jp-InterviewHistory-listPane">
          <SnapshotList model={model} />
        </div>
        <section className="jp-InterviewHistory-detail" aria-label={trans.__('Selected snapshot')}>
          <Detail model={model} trans={props.trans} />
        </section>
      </div>
    </div>
  );
}

/** The History view as a main-area widget. */
export class HistoryWidget extends ReactWidget {
  constructor(
    readonly model: HistoryModel,
    private readonly _trans: TranslationBundle,
    private readonly _openReplay?: () => void
  ) {
    super();
    this.id = `jp-Interview-history-${model.roomId}`;
    this.addClass('jp-InterviewHistory-widget');
    this.title.icon = historyIcon;
    this.title.label = _trans.__('History');
    this.title.caption = _trans.__('Version history of the interview notebook');
    this.title.closable = true;
  }

  protected render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <HistoryView model={this.model} trans={this._trans} openReplay={this._openReplay} />
      </TransContext.Provider>
    );
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.model.refresh();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached) {
      const target =
        this.node.querySelector<HTMLElement>('[data-testid="ji-snapshot-row"][tabindex="0"]') ??
        this.node.querySelector<HTMLElement>('[data-testid="ji-checkpoint-label"]');
      target?.focus();
    }
  }
}
