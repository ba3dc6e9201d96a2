/** The interview timer: server-synced, red in the last five minutes, "time's up" at the end. */

import * as React from 'react';

import { RoomModel } from '../state/room';
import { useSignals, useTick, useTrans } from './common';
import { timerView } from './logic';

/** Minutes an interviewer's "extend" adds. */
export const EXTEND_MINUTES = 5;

export function TimerView(props: { room: RoomModel }): JSX.Element {
  const { room } = props;
  const trans = useTrans();
  useSignals(room.timerChanged, room.changed, room.interviewStateChanged);
  useTick(250);
  const view = timerView(room.timer, room.clock.now());
  const staff = room.isStaff;
  const classes = ['jp-Interview-timer'];
  if (view.warning) {
    classes.push('jp-Interview-timer-warning');
  }
  if (view.state === 'expired') {
    classes.push('jp-mod-expired');
  }
  const stateLabel = {
    idle: trans.__('not started'),
    running: trans.__('running'),
    paused: trans.__('paused'),
    expired: trans.__("time's up")
  }[view.state];
  return (
    <div className="jp-Interview-timerBox">
      <div
        className={classes.join(' ')}
        data-testid="ji-timer"
        data-state={view.state}
        data-remaining-ms={view.remainingMs}
        role="timer"
        aria-label={trans.__('Time left: %1 (%2)', view.label, stateLabel)}
        title={stateLabel}
      >
        {view.state === 'expired' ? (
          <span className="jp-Interview-timesUp">{trans.__("Time's up")}</span>
        ) : (
          <span className="jp-Interview-timerDigits">{view.label}</span>
        )}
        {view.state === 'paused' && (
          <span className="jp-Interview-timerState">{trans.__('paused')}</span>
        )}
      </div>
      {staff && room.interviewState === 'live' && (
        // The server takes timer actions only while the interview is live.
        <div className="jp-Interview-timerButtons">
          {view.state === 'idle' && (
            <button
              type="button"
              className="jp-Interview-button"
              data-testid="ji-timer-start"
              onClick={() => room.timerAction('start')}
            >
              {trans.__('Start timer')}
            </button>
          )}
          {view.state === 'running' && (
            <button
              type="button"
              className="jp-Interview-button"
              data-testid="ji-timer-pause"
              onClick={() => room.timerAction('pause')}
            >
              {trans.__('Pause')}
            </button>
          )}
          {view.state === 'paused' && (
            <button
              type="button"
              className="jp-Interview-button"
              data-testid="ji-timer-resume"
              onClick={() => room.timerAction('resume')}
            >
              {trans.__('Resume')}
            </button>
          )}
          {view.state !== 'idle' && (
          <button
            type="button"
            className="jp-Interview-button"
            data-testid="ji-timer-extend"
            aria-label={trans.__('Add %1 minutes', String(EXTEND_MINUTES))}
            onClick={() => room.timerAction('extend', EXTEND_MINUTES)}
          >
            {trans.__('+%1 min', String(EXTEND_MINUTES))}
          </button>
          )}
        </div>
      )}
    </div>
  );
}
