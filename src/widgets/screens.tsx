/**
 * The full-page screens of an interview page after the lobby (widgets/lobby.ts, the device check):
 * joining, the waiting room, not admitted, the end screen, a closed connection; and the
 * "reconnecting…" banner.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { TerminalReason } from '../signaling/client';
import { InterviewSession } from '../state/session';
import { TransContext, Video, useSignals, useTrans } from './common';

function Waiting(props: { session: InterviewSession; title: string }): JSX.Element {
  const { session } = props;
  const trans = useTrans();
  useSignals(session.room.changed, session.media.changed);
  const admitted = session.room.myStatus === 'admitted';
  return (
    <div className="jp-Interview-card" data-testid="ji-waiting-room" role="status" aria-live="polite">
      <h2 id="jp-Interview-screen-title">{props.title}</h2>
      <div className="jp-Interview-preview jp-mod-small">
        <Video stream={session.media.stream} muted mirrored testid="ji-waiting-preview" label={trans.__('Your camera')} />
      </div>
      <p className="jp-Interview-big">
        {admitted
          ? trans.__('You are in. The interview starts when the interviewer presses Start.')
          : trans.__('Please wait: the interviewer will let you in shortly.')}
      </p>
      <p className="jp-Interview-hint">{trans.__('Keep this page open.')}</p>
    </div>
  );
}

function closedText(trans: TranslationBundle, reason: TerminalReason | undefined): string {
  switch (reason) {
    case 'replaced':
      return trans.__('This interview is now open in another tab or window. Close this one.');
    case 'forbidden':
      return trans.__('Your access to this interview has ended.');
    case 'gone':
      return trans.__('This interview was deleted.');
    case 'policy':
      return trans.__('The server closed the connection. Reload the page to join again.');
    default:
      return trans.__('The connection to the interview was closed. Reload the page to join again.');
  }
}

/** Everything that covers the page instead of the room. */
function Screens(props: { session: InterviewSession }): JSX.Element | null {
  const { session } = props;
  const trans = useTrans();
  useSignals(session.screenChanged, session.recordChanged, session.room.connectionChanged);
  const [dismissedEnd, setDismissedEnd] = React.useState(false);
  const title = session.record?.title ?? trans.__('Interview');
  const screen = session.screen;
  let body: JSX.Element | null = null;
  switch (screen) {
    case 'device-check':
      body = null; // the lobby (widgets/lobby.ts) covers the page
      break;
    case 'joining':
      body = (
        <div className="jp-Interview-card" data-testid="ji-joining" role="status">
          <h2 id="jp-Interview-screen-title">{title}</h2>
          <p className="jp-Interview-big">{trans.__('Joining…')}</p>
        </div>
      );
      break;
    case 'waiting':
      body = <Waiting session={session} title={title} />;
      break;
    case 'denied':
      body = (
        <div className="jp-Interview-card" data-testid="ji-denied" role="alert">
          <h2 id="jp-Interview-screen-title">{title}</h2>
          <p className="jp-Interview-big">{trans.__('The interviewer did not let you in.')}</p>
        </div>
      );
      break;
    case 'ended':
      body = dismissedEnd ? null : (
        <div className="jp-Interview-card" data-testid="ji-end-screen" role="alert">
          <h2 id="jp-Interview-screen-title">{trans.__('The interview has ended')}</h2>
          <p className="jp-Interview-big">{trans.__('Thank you for your time.')}</p>
          <p>{trans.__('The notebook is read-only now: you can look at it, but no longer edit or run it.')}</p>
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-review-notebook"
            onClick={() => setDismissedEnd(true)}
          >
            {trans.__('Look at the notebook')}
          </button>
        </div>
      );
      break;
    case 'closed':
      body = (
        <div className="jp-Interview-card" data-testid="ji-closed" role="alert">
          <h2 id="jp-Interview-screen-title">{title}</h2>
          <p className="jp-Interview-big">
            {closedText(trans, session.room.connection.terminal?.reason)}
          </p>
        </div>
      );
      break;
    case 'room':
      body = null;
      break;
  }
  if (body === null) {
    return null;
  }
  return (
    <div
      className="jp-Interview-overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="jp-Interview-screen-title"
    >
      {body}
    </div>
  );
}

/** A widget attached to the page body: shows the screen the session is on, or nothing. */
export class InterviewScreens extends ReactWidget {
  constructor(
    private readonly _session: InterviewSession,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-Interview-screens');
    this._session.screenChanged.connect(this._sync, this);
    this._sync();
  }

  protected render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <Screens session={this._session} />
      </TransContext.Provider>
    );
  }

  private _sync(): void {
    // An empty overlay must not take clicks meant for the lab (or the lobby).
    const screen = this._session.screen;
    this.toggleClass('jp-mod-active', screen !== 'room' && screen !== 'device-check');
  }
}

function Banner(props: { session: InterviewSession }): JSX.Element | null {
  const { room } = props.session;
  const trans = useTrans();
  useSignals(room.connectionChanged);
  const status = room.connection;
  if (status.state !== 'reconnecting') {
    return null;
  }
  return (
    <div className="jp-Interview-banner" data-testid="ji-reconnecting" role="status" aria-live="assertive">
      {trans.__('Reconnecting…')}
      {status.attempt !== undefined && status.attempt > 1 && (
        <span className="jp-Interview-hint">
          {' '}
          {trans.__('(attempt %1)', String(status.attempt))}
        </span>
      )}
    </div>
  );
}

/** The "reconnecting…" banner across the top of the page. */
export class ReconnectingBanner extends ReactWidget {
  constructor(
    private readonly _session: InterviewSession,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-Interview-bannerHost');
  }

  protected render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <Banner session={this._session} />
      </TransContext.Provider>
    );
  }
}
