/**
 * The Interviews panel: the owner creates interviews and sees them all with their states; the
 * owner and an interviewer copy the interviewer and candidate links, and start and end.
 */

import { Clipboard } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import type { IRoomRecord } from '../state/api';
import { InterviewsModel, InviteRole } from '../state/interviews';
import { TransContext, useSignals, useTrans } from './common';
import { interviewIcon } from './icons';

export interface ILanguageChoice {
  value: string;
  label: string;
}

/** The room languages the server accepts (docs/api.md, RoomCreate). */
export const DEFAULT_LANGUAGES: ReadonlyArray<ILanguageChoice> = [
  { value: 'python', label: 'Python' },
  { value: 'javascript', label: 'JavaScript' },
  { value: 'typescript', label: 'TypeScript' },
  { value: 'java', label: 'Java' },
  { value: 'cpp', label: 'C++' },
  { value: 'c', label: 'C' },
  { value: 'go', label: 'Go' },
  { value: 'rust', label: 'Rust' },
  { value: 'ruby', label: 'Ruby' },
  { value: 'bash', label: 'Bash' },
  { value: 'sql', label: 'SQL' }
];

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (or an insecure origin): the lab's copy through a selection.
    Clipboard.copyToSystem(text);
  }
}

function CreateForm(props: { model: InterviewsModel; languages: ReadonlyArray<ILanguageChoice> }): JSX.Element {
  const trans = useTrans();
  const [title, setTitle] = React.useState('');
  const [language, setLanguage] = React.useState(props.languages[0]?.value ?? 'python');
  const [duration, setDuration] = React.useState(45);
  const [waitingRoom, setWaitingRoom] = React.useState(true);
  const [screenShare, setScreenShare] = React.useState(true);
  const [problem, setProblem] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const valid = title.trim().length > 0 && duration >= 1 && duration <= 480;
  return (
    <form
      className="jp-Interview-createForm"
      aria-label={trans.__('New interview')}
      onSubmit={event => {
        event.preventDefault();
        if (!valid || busy) {
          return;
        }
        setBusy(true);
        void props.model
          .create({
            title: title.trim(),
            language,
            duration_minutes: duration,
            waiting_room: waitingRoom,
            allow_candidate_screen_share: screenShare,
            problem
          })
          .then(room => {
            setBusy(false);
            if (room !== null) {
              setTitle('');
              setProblem('');
            }
          });
      }}
    >
      <h3>{trans.__('New interview')}</h3>
      <label className="jp-Interview-field">
        <span>{trans.__('Title')}</span>
        <input
          className="jp-mod-styled"
          data-testid="ji-create-title"
          value={title}
          maxLength={200}
          required
          onChange={e => setTitle(e.currentTarget.value)}
        />
      </label>
      <div className="jp-Interview-fieldRow">
        <label className="jp-Interview-field">
          <span>{trans.__('Language')}</span>
          <select
            className="jp-mod-styled"
            data-testid="ji-create-language"
            value={language}
            onChange={e => setLanguage(e.currentTarget.value)}
          >
            {props.languages.map(l => (
              <option key={l.value} value={l.value}>
                {l.label}
              </option>
            ))}
          </select>
        </label>
        <label className="jp-Interview-field">
          <span>{trans.__('Minutes')}</span>
          <input
            className="jp-mod-styled"
            data-testid="ji-create-duration"
            type="number"
            min={1}
            max={480}
            value={duration}
            onChange={e => setDuration(Number(e.currentTarget.value))}
          />
        </label>
      </div>
      <label className="jp-Interview-check">
        <input
          type="checkbox"
          data-testid="ji-create-waiting-room"
          checked={waitingRoom}
          onChange={e => setWaitingRoom(e.currentTarget.checked)}
        />
        <span>{trans.__('Waiting room (admit the candidate yourself)')}</span>
      </label>
      <label className="jp-Interview-check">
        <input
          type="checkbox"
          data-testid="ji-create-screen-share"
          checked={screenShare}
          onChange={e => setScreenShare(e.currentTarget.checked)}
        />
        <span>{trans.__('The candidate may share the screen')}</span>
      </label>
      <label className="jp-Interview-field">
        <span>{trans.__('Problem (Markdown, optional)')}</span>
        <textarea
          className="jp-mod-styled"
          data-testid="ji-create-problem"
          rows={3}
          value={problem}
          onChange={e => setProblem(e.currentTarget.value)}
          onKeyDown={e => e.stopPropagation()}
        />
      </label>
      <button
        type="submit"
        className="jp-Interview-button jp-mod-accept"
        data-testid="ji-create"
        disabled={!valid || busy}
      >
        {busy ? trans.__('Creating…') : trans.__('Create interview')}
      </button>
    </form>
  );
}

function CopyButton(props: {
  model: InterviewsModel;
  room: IRoomRecord;
  role: InviteRole;
  testid: string;
}): JSX.Element {
  const trans = useTrans();
  const [copied, setCopied] = React.useState(false);
  const known = props.model.links(props.room.id)[props.role] !== undefined;
  const label =
    props.role === 'interviewer' ? trans.__('Interviewer link') : trans.__('Candidate link');
  const title = known
    ? trans.__('Copy the %1', label.toLowerCase())
    : trans.__('Issue a new %1 and copy it (links are shown only once)', label.toLowerCase());
  return (
    <button
      type="button"
      className="jp-Interview-button"
      data-testid={props.testid}
      data-copied={copied ? 'true' : 'false'}
      title={title}
      aria-label={title}
      disabled={props.room.state === 'ended'}
      onClick={() => {
        void props.model.link(props.room.id, props.role).then(async url => {
          if (url !== null) {
            await copyText(url);
            setCopied(true);
            window.setTimeout(() => setCopied(false), 2000);
          }
        });
      }}
    >
      {copied ? trans.__('Copied') : label}
    </button>
  );
}

function Row(props: { model: InterviewsModel; room: IRoomRecord; open: (room: IRoomRecord) => void }): JSX.Element {
  const { model, room } = props;
  const trans = useTrans();
  const stateLabel =
    {
      scheduled: trans.__('scheduled'),
      waiting: trans.__('waiting'),
      live: trans.__('live'),
      ended: trans.__('ended')
    }[room.state] ?? room.state;
  const links = model.links(room.id);
  return (
    <li className="jp-Interview-row" data-testid="ji-interview-row" data-room={room.id} data-state={room.state}>
      <div className="jp-Interview-rowHead">
        <span className="jp-Interview-rowTitle">{room.title}</span>
        <span className={`jp-Interview-state jp-mod-${room.state}`}>{stateLabel}</span>
      </div>
      <div className="jp-Interview-rowMeta">
        {trans.__('%1 · %2 min', room.language, String(room.duration_minutes))}
      </div>
      <div className="jp-Interview-rowButtons">
        <CopyButton model={model} room={room} role="interviewer" testid="ji-copy-interviewer-link" />
        <CopyButton model={model} room={room} role="candidate" testid="ji-copy-candidate-link" />
        {room.state !== 'live' && room.state !== 'ended' && (
          <button
            type="button"
            className="jp-Interview-button jp-mod-accept"
            data-testid="ji-row-start"
            onClick={() => void model.start(room.id)}
          >
            {trans.__('Start')}
          </button>
        )}
        {room.state !== 'ended' && (
          <button
            type="button"
            className="jp-Interview-button jp-mod-reject"
            data-testid="ji-row-end"
            onClick={() => void model.end(room.id)}
          >
            {trans.__('End')}
          </button>
        )}
        {model.roomId === null && (
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-row-open"
            title={trans.__('Open the room in a new browser tab')}
            onClick={() => props.open(room)}
          >
            {trans.__('Open')}
          </button>
        )}
      </div>
      {model.created === room.id && links.interviewer !== undefined && links.candidate !== undefined && (
        <div className="jp-Interview-links" role="status">
          <p>{trans.__('Send each person their link. They are shown only now.')}</p>
          <label className="jp-Interview-field">
            <span>{trans.__('Interviewer')}</span>
            <input className="jp-mod-styled" readOnly value={links.interviewer} data-testid="ji-created-interviewer-link" onFocus={e => e.currentTarget.select()} />
          </label>
          <label className="jp-Interview-field">
            <span>{trans.__('Candidate')}</span>
            <input className="jp-mod-styled" readOnly value={links.candidate} data-testid="ji-created-candidate-link" onFocus={e => e.currentTarget.select()} />
          </label>
        </div>
      )}
    </li>
  );
}

function Interviews(props: {
  model: InterviewsModel;
  languages: ReadonlyArray<ILanguageChoice>;
  open: (room: IRoomRecord) => void;
}): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  useSignals(model.changed);
  const rooms = [...model.rooms].reverse();
  return (
    <div className="jp-Interview-interviews" data-testid="ji-interviews">
      <div className="jp-Interview-interviewsHead">
        <h2>{trans.__('Interviews')}</h2>
        <button
          type="button"
          className="jp-Interview-button"
          data-testid="ji-refresh"
          onClick={() => void model.refresh()}
          disabled={model.loading}
        >
          {trans.__('Refresh')}
        </button>
      </div>
      {model.error !== null && (
        <p className="jp-Interview-notice jp-mod-error" role="alert" data-testid="ji-interviews-error">
          {model.error}
        </p>
      )}
      {model.canCreate && <CreateForm model={model} languages={props.languages} />}
      <ul className="jp-Interview-rows" aria-label={trans.__('Interviews')}>
        {rooms.map(room => (
          <Row key={room.id} model={model} room={room} open={props.open} />
        ))}
      </ul>
      {rooms.length === 0 && !model.loading && (
        <p className="jp-Interview-hint">{trans.__('No interviews yet.')}</p>
      )}
    </div>
  );
}

/** The panel as a sidebar widget; refreshes when shown and every 15 s while visible. */
export class InterviewsPanel extends ReactWidget {
  constructor(
    private readonly _model: InterviewsModel,
    private readonly _trans: TranslationBundle,
    private readonly _languages: () => ReadonlyArray<ILanguageChoice>,
    private readonly _open: (room: IRoomRecord) => void
  ) {
    super();
    this.id = 'jp-Interview-interviews';
    this.addClass('jp-Interview-interviewsWidget');
    this.title.icon = interviewIcon;
    this.title.caption = this._trans.__('Interviews');
  }

  protected render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <Interviews model={this._model} languages={this._languages()} open={this._open} />
      </TransContext.Provider>
    );
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this._model.refresh();
    this._poll = window.setInterval(() => void this._model.refresh(), 15_000);
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    window.clearInterval(this._poll);
  }

  override dispose(): void {
    window.clearInterval(this._poll);
    super.dispose();
  }

  private _poll = 0;
}
