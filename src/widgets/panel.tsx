/**
 * The interview panel beside the notebook: room state with Start/End (and History for
 * interviewers), the timer, knocks, video tiles, call controls, participants, and tabs for the
 * chat and (interviewers) the notes.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { InterviewSession } from '../state/session';
import { Controls, ILanguageOption, Knocks, MediaProblem, VideoGrid } from './call';
import { TransContext, useSignals, useTrans } from './common';
import { historyIcon } from './history/icons';
import { interviewIcon } from './icons';
import { PanelTab, chatIsVisible } from './logic';
import { MarkdownRenderer, Notes } from './notes';
import { Chat, Participants } from './people';
import { TimerView } from './timer';

/** How the panel opens the room's version history (the history plugin's command). */
export interface IHistoryOpener {
  /** Whether the history can be opened here (the plugin is loaded and lets this user in). */
  available: () => boolean;
  open: () => void;
}

function HistoryButton(props: { history: IHistoryOpener }): JSX.Element {
  const trans = useTrans();
  return (
    <button
      type="button"
      className="jp-Interview-button jp-Interview-historyButton"
      data-testid="ji-panel-history"
      aria-label={trans.__('History of the notebook: snapshots, changes, restore and replay')}
      title={trans.__('Open the version history and the session replay')}
      onClick={() => props.history.open()}
    >
      <historyIcon.react tag="span" className="jp-Interview-historyButtonIcon" />
      {trans.__('History')}
    </button>
  );
}

function RoomHeader(props: { session: InterviewSession; history?: IHistoryOpener }): JSX.Element {
  const { session, history } = props;
  const { room } = session;
  const trans = useTrans();
  useSignals(room.interviewStateChanged, room.changed, session.recordChanged);
  const state = room.interviewState;
  const stateLabel =
    state === null
      ? trans.__('connecting')
      : {
          scheduled: trans.__('not started'),
          waiting: trans.__('not started'),
          live: trans.__('live'),
          ended: trans.__('ended')
        }[state];
  return (
    <header className="jp-Interview-header">
      <div className="jp-Interview-titleRow">
        <h2 className="jp-Interview-title">{session.record?.title ?? trans.__('Interview')}</h2>
        <span
          className={`jp-Interview-state jp-mod-${state ?? 'unknown'}`}
          data-testid="ji-room-state"
          data-state={state ?? ''}
        >
          {stateLabel}
        </span>
      </div>
      <div className="jp-Interview-titleRow">
        <TimerView room={room} />
        {room.isStaff && (
          <div className="jp-Interview-stateButtons">
            {state !== 'ended' && state !== 'live' && (
              <button
                type="button"
                className="jp-Interview-button jp-mod-accept"
                data-testid="ji-start"
                disabled={state === null}
                onClick={() => session.startInterview()}
              >
                {trans.__('Start')}
              </button>
            )}
            {state !== 'ended' && (
              <button
                type="button"
                className="jp-Interview-button jp-mod-reject"
                data-testid="ji-end"
                disabled={state === null}
                title={trans.__('End the interview: the candidate can no longer edit or run code')}
                onClick={() => session.endInterview()}
              >
                {trans.__('End')}
              </button>
            )}
            {/* Staff only, and after End too: that is when the history is reviewed. */}
            {history !== undefined && history.available() && <HistoryButton history={history} />}
          </div>
        )}
      </div>
    </header>
  );
}

/** The room kernel's trouble (time limit hit, died, restarting), when there is any. */
function KernelNotice(props: { session: InterviewSession }): JSX.Element | null {
  const { room } = props.session;
  const trans = useTrans();
  useSignals(room.kernelChanged);
  const kernel = room.kernel;
  if (kernel === null || kernel.status === 'idle' || kernel.status === 'busy') {
    return null;
  }
  const text = {
    starting: trans.__('The %1 kernel is starting…', kernel.language),
    restarting: trans.__('The kernel is restarting.'),
    dead: trans.__('The kernel stopped.'),
    limit: trans.__('A cell ran into the time limit and was stopped.')
  }[kernel.status];
  return (
    <p
      className={`jp-Interview-notice${kernel.status === 'starting' ? '' : ' jp-mod-warning'}`}
      data-testid="ji-kernel"
      data-status={kernel.status}
      role="status"
    >
      {text}
      {kernel.reason !== undefined && kernel.reason !== '' && ` (${kernel.reason})`}
    </p>
  );
}

function Tabs(props: {
  session: InterviewSession;
  tab: PanelTab;
  onTab: (tab: PanelTab) => void;
  render?: MarkdownRenderer;
}): JSX.Element {
  const { session, tab, onTab } = props;
  const { room } = session;
  const trans = useTrans();
  useSignals(room.chatChanged, room.changed);
  const staff = room.isStaff;
  const tabs: Array<{ id: PanelTab; label: string; testid: string }> = [
    { id: 'chat', label: trans.__('Chat'), testid: 'ji-chat-tab' }
  ];
  if (staff) {
    tabs.push({ id: 'notes', label: trans.__('Notes'), testid: 'ji-notes-tab' });
  }
  const select = (id: PanelTab): void => onTab(id);
  const current = staff || tab !== 'notes' ? tab : 'chat';
  const notes = staff ? session.notes : null;
  return (
    <div className="jp-Interview-tabs">
      <div className="jp-Interview-tabList" role="tablist" aria-label={trans.__('Chat and notes')}>
        {tabs.map((t, i) => (
          <button
            type="button"
            role="tab"
            key={t.id}
            id={`jp-Interview-tab-${t.id}`}
            className={`jp-Interview-tab${current === t.id ? ' jp-mod-current' : ''}`}
            data-testid={t.testid}
            aria-selected={current === t.id}
            aria-controls={`jp-Interview-tabpanel-${t.id}`}
            tabIndex={current === t.id ? 0 : -1}
            onClick={() => select(t.id)}
            onKeyDown={event => {
              // Arrow keys move between tabs (WAI-ARIA tabs pattern).
              if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
                const step = event.key === 'ArrowRight' ? 1 : tabs.length - 1;
                const next = tabs[(i + step) % tabs.length];
                select(next.id);
                document.getElementById(`jp-Interview-tab-${next.id}`)?.focus();
              }
            }}
          >
            {t.label}
            {t.id === 'chat' && room.unread > 0 && (
              <span
                className="jp-Interview-badge"
                data-testid="ji-chat-unread"
                aria-label={trans._n('%1 unread message', '%1 unread messages', room.unread)}
              >
                {room.unread}
              </span>
            )}
          </button>
        ))}
      </div>
      <div
        className="jp-Interview-tabPanel"
        role="tabpanel"
        id={`jp-Interview-tabpanel-${current}`}
        aria-labelledby={`jp-Interview-tab-${current}`}
      >
        {current === 'chat' && <Chat room={room} />}
        {current === 'notes' && notes !== null && <Notes notes={notes} render={props.render} />}
      </div>
    </div>
  );
}

export interface IInterviewPanelOptions {
  session: InterviewSession;
  trans: TranslationBundle;
  /** The server's languages for the room's notebook (interviewers pick one). */
  languages: () => ReadonlyArray<ILanguageOption>;
  languagesChanged: ISignal<unknown, void>;
  /** Renders the notes' Markdown preview; without it there is no preview. */
  renderMarkdown?: MarkdownRenderer;
  /** Opens the version history (staff see a History button); without it there is none. */
  history?: IHistoryOpener;
}

/** The panel as a Lumino widget, for the main area beside the notebook. */
export class InterviewPanel extends ReactWidget {
  constructor(options: IInterviewPanelOptions) {
    super();
    this._session = options.session;
    this._trans = options.trans;
    this._languages = options.languages;
    this._languagesChanged = options.languagesChanged;
    this._renderMarkdown = options.renderMarkdown;
    this._history = options.history;
    this.id = 'jp-Interview-panel';
    this.addClass('jp-Interview-panelWidget');
    this.title.icon = interviewIcon;
    this.title.caption = this._trans.__('Interview: video, people, chat, timer');
    this.title.closable = false;
    this._updateLabel();
    this._session.room.chatChanged.connect(this._onChat, this);
    this._session.room.knocksChanged.connect(this._onChat, this);
    document.addEventListener('visibilitychange', this._onPageVisibility);
  }

  /** Which tab is open. */
  get tab(): PanelTab {
    return this._tab;
  }

  get tabChanged(): ISignal<this, PanelTab> {
    return this._tabChanged;
  }

  setTab(tab: PanelTab): void {
    if (tab !== this._tab) {
      this._tab = tab;
      this._tabChanged.emit(tab);
      this._updateChatOpen();
      this.update();
    }
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    document.removeEventListener('visibilitychange', this._onPageVisibility);
    this._session.room.chatChanged.disconnect(this._onChat, this);
    this._session.room.knocksChanged.disconnect(this._onChat, this);
    super.dispose();
  }

  protected render(): JSX.Element {
    const session = this._session;
    return (
      <TransContext.Provider value={this._trans}>
        <div
          className="jp-Interview-panel"
          data-testid="ji-panel"
          role="region"
          aria-label={this._trans.__('Interview')}
        >
          <RoomHeader session={session} history={this._history} />
          <Knocks session={session} />
          <VideoGrid session={session} />
          <MediaProblem session={session} />
          <KernelNotice session={session} />
          <UseSignal signal={this._languagesChanged}>
            {() => <Controls session={session} languages={this._languages()} />}
          </UseSignal>
          <section className="jp-Interview-section" aria-label={this._trans.__('Participants')}>
            <Participants room={session.room} />
          </section>
          <UseSignal signal={this._tabChanged} initialArgs={this._tab}>
            {(_, tab) => (
              <Tabs
                session={session}
                tab={tab ?? 'chat'}
                onTab={t => this.setTab(t)}
                render={this._renderMarkdown}
              />
            )}
          </UseSignal>
        </div>
      </TransContext.Provider>
    );
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._updateChatOpen();
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._updateChatOpen();
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._updateChatOpen();
  }

  private _onChat(): void {
    this._updateLabel();
  }

  private _updateLabel(): void {
    const { unread, knocks, isStaff } = this._session.room;
    const waiting = isStaff ? knocks.size : 0;
    let label = this._trans.__('Interview');
    if (unread > 0) {
      label += ` (${unread})`;
    }
    if (waiting > 0) {
      label += ` · ${this._trans._n('%1 waiting', '%1 waiting', waiting)}`;
    }
    this.title.label = label;
    // Seen in a tab behind the notebook (narrow windows): draw the eye to the tab.
    this.title.className = unread > 0 || waiting > 0 ? 'jp-Interview-attention' : '';
  }

  private _updateChatOpen(): void {
    this._session.room.setChatOpen(
      chatIsVisible({
        panelVisible: this.isVisible,
        tab: this._tab,
        pageVisible: document.visibilityState !== 'hidden'
      })
    );
  }

  private readonly _onPageVisibility = (): void => {
    this._updateChatOpen();
  };

  private readonly _session: InterviewSession;
  private readonly _trans: TranslationBundle;
  private readonly _languages: () => ReadonlyArray<ILanguageOption>;
  private readonly _languagesChanged: ISignal<unknown, void>;
  private readonly _renderMarkdown: MarkdownRenderer | undefined;
  private readonly _history: IHistoryOpener | undefined;
  private _tab: PanelTab = 'chat';
  private readonly _tabChanged = new Signal<this, PanelTab>(this);
}
