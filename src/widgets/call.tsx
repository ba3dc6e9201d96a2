/**
 * The call's views: the video tiles (local and one per remote participant, with media state,
 * connection quality and reactions), the media controls, and the waiting candidates' knocks.
 */

import { settingsIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LocalMedia } from '../media/local';
import { ILinkHealth, UNKNOWN_HEALTH, describeHealth } from '../media/quality';
import { IParticipant } from '../state/room';
import { InterviewSession } from '../state/session';
import { Toggle, Video, clockTime, useSignals, useTrans } from './common';
import { camIcon, camOffIcon, handIcon, micIcon, micOffIcon, reactIcon, screenIcon } from './icons';
import { mediaProblemText } from './texts';

/** How long a reaction stays on a tile, ms. */
export const REACTION_MS = 4000;

/** The reactions offered. */
export const REACTIONS = ['👍', '👏', '😄', '🤔', '❓'];

/** Each participant's latest reaction, for as long as it shows. */
function useReactions(session: InterviewSession): ReadonlyMap<string, string> {
  const [shown, setShown] = React.useState<ReadonlyMap<string, string>>(new Map());
  React.useEffect(() => {
    const timers = new Map<string, number>();
    const slot = (_: unknown, reaction: { participantId: string; emoji: string }): void => {
      setShown(before => new Map(before).set(reaction.participantId, reaction.emoji));
      window.clearTimeout(timers.get(reaction.participantId));
      timers.set(
        reaction.participantId,
        window.setTimeout(() => {
          timers.delete(reaction.participantId);
          setShown(before => {
            const next = new Map(before);
            next.delete(reaction.participantId);
            return next;
          });
        }, REACTION_MS)
      );
    };
    session.room.reaction.connect(slot);
    return () => {
      session.room.reaction.disconnect(slot);
      timers.forEach(handle => window.clearTimeout(handle));
    };
  }, [session]);
  return shown;
}

function onOff(value: boolean): 'on' | 'off' {
  return value ? 'on' : 'off';
}

function QualityBadge(props: { health: ILinkHealth }): JSX.Element {
  const trans = useTrans();
  const { health } = props;
  const label = {
    good: trans.__('Connection good'),
    fair: trans.__('Connection fair'),
    poor: trans.__('Connection poor'),
    unknown: trans.__('Connection not measured yet')
  }[health.quality];
  const details = describeHealth(health);
  return (
    <span
      className={`jp-Interview-quality jp-mod-${health.quality}`}
      data-testid="ji-quality"
      data-quality={health.quality}
      data-rtt-ms={health.rttMs === null ? '' : Math.round(health.rttMs)}
      data-loss-pct={health.lossPct === null ? '' : health.lossPct.toFixed(1)}
      data-kbps={health.inKbps === null ? '' : Math.round(health.inKbps)}
      title={`${label}: ${details}`}
      role="img"
      aria-label={`${label}: ${details}`}
    >
      <span className="jp-Interview-qualityBar" />
      <span className="jp-Interview-qualityBar" />
      <span className="jp-Interview-qualityBar" />
    </span>
  );
}

function RemoteTile(props: {
  participant: IParticipant;
  stream: MediaStream | null;
  health: ILinkHealth;
  reaction: string | undefined;
}): JSX.Element {
  const trans = useTrans();
  const { participant: p, stream, health, reaction } = props;
  const showVideo = p.media.cam || p.media.screen;
  return (
    <figure
      className="jp-Interview-tile"
      data-testid="ji-tile"
      data-participant={p.id}
      data-mic={onOff(p.media.mic)}
      data-cam={onOff(p.media.cam)}
      data-screen={onOff(p.media.screen)}
      aria-label={trans.__('Video of %1', p.name)}
    >
      <Video
        stream={stream}
        testid="ji-video-remote"
        label={trans.__('Video of %1', p.name)}
        className={showVideo ? '' : 'jp-mod-hidden'}
      />
      {!showVideo && (
        <div className="jp-Interview-avatar" aria-hidden="true">
          {(p.name || '?').slice(0, 1).toUpperCase()}
        </div>
      )}
      <figcaption className="jp-Interview-tileCaption">
        <span className="jp-Interview-tileName">{p.name}</span>
        {!p.media.mic && (
          <micOffIcon.react tag="span" className="jp-Interview-tileIcon" title={trans.__('Muted')} />
        )}
        {p.media.screen && (
          <screenIcon.react
            tag="span"
            className="jp-Interview-tileIcon"
            title={trans.__('Sharing the screen')}
          />
        )}
        {p.handRaised && (
          <handIcon.react tag="span" className="jp-Interview-tileIcon jp-mod-hand" title={trans.__('Hand raised')} />
        )}
        <QualityBadge health={health} />
      </figcaption>
      {reaction !== undefined && (
        <div className="jp-Interview-reaction" data-testid="ji-reaction" role="status">
          {reaction}
        </div>
      )}
    </figure>
  );
}

/** The local preview and a tile per remote participant in the call. */
export function VideoGrid(props: { session: InterviewSession }): JSX.Element {
  const { session } = props;
  const { room, media } = session;
  const trans = useTrans();
  useSignals(room.participantsChanged, room.changed, session.streamsChanged, session.healthChanged, media.changed);
  const reactions = useReactions(session);
  const myId = room.myId;
  const others = [...room.participants.values()].filter(
    p => p.id !== myId && p.presence !== 'offline'
  );
  const local = media.state;
  const localVideo = local.screen !== null || local.cam;
  return (
    <div className="jp-Interview-grid" role="group" aria-label={trans.__('Video')}>
      <figure className="jp-Interview-tile jp-mod-local" data-testid="ji-tile-local">
        <Video
          stream={media.screenStream ?? media.stream}
          muted
          mirrored={local.screen === null}
          testid="ji-video-local"
          label={trans.__('Your video')}
          className={localVideo ? '' : 'jp-mod-hidden'}
        />
        {!localVideo && (
          <div className="jp-Interview-avatar" aria-hidden="true">
            {trans.__('You')}
          </div>
        )}
        <figcaption className="jp-Interview-tileCaption">
          <span className="jp-Interview-tileName">{trans.__('You')}</span>
          {!local.mic && <micOffIcon.react tag="span" className="jp-Interview-tileIcon" />}
        </figcaption>
        {myId !== null && reactions.get(myId) !== undefined && (
          <div className="jp-Interview-reaction" data-testid="ji-reaction-local" role="status">
            {reactions.get(myId)}
          </div>
        )}
      </figure>
      {others.map(p => (
        <RemoteTile
          key={p.id}
          participant={p}
          stream={session.streams.get(p.id) ?? null}
          health={session.health.get(p.id) ?? UNKNOWN_HEALTH}
          reaction={reactions.get(p.id)}
        />
      ))}
    </div>
  );
}

/** Camera and microphone choice (the device check, and the panel's device settings). */
export function DevicePickers(props: { media: LocalMedia; testids: [string, string] }): JSX.Element {
  const { media } = props;
  const trans = useTrans();
  useSignals(media.changed);
  return (
    <>
      <label className="jp-Interview-field">
        <span>{trans.__('Camera')}</span>
        <select
          className="jp-mod-styled"
          data-testid={props.testids[0]}
          value={media.cameraId ?? ''}
          disabled={media.cameras.length === 0}
          onChange={event => void media.selectCamera(event.currentTarget.value)}
        >
          {media.cameras.length === 0 && <option value="">{trans.__('No camera')}</option>}
          {media.cameras.map(d => (
            <option key={d.deviceId} value={d.deviceId}>
              {d.label}
            </option>
          ))}
        </select>
      </label>
      <label className="jp-Interview-field">
        <span>{trans.__('Microphone')}</span>
        <select
          className="jp-mod-styled"
          data-testid={props.testids[1]}
          value={media.microphoneId ?? ''}
          disabled={media.microphones.length === 0}
          onChange={event => void media.selectMicrophone(event.currentTarget.value)}
        >
          {media.microphones.length === 0 && <option value="">{trans.__('No microphone')}</option>}
          {media.microphones.map(d => (
            <option key={d.deviceId} value={d.deviceId}>
              {d.label}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

export function MediaProblem(props: { session: InterviewSession }): JSX.Element | null {
  const trans = useTrans();
  useSignals(props.session.media.changed);
  const state = props.session.media.state;
  const text = mediaProblemText(trans, state.cameraProblem, state.micProblem);
  return text === null ? null : (
    <p className="jp-Interview-notice jp-mod-warning" role="status" data-testid="ji-media-problem">
      {text}
    </p>
  );
}

export interface ILanguageOption {
  value: string;
  label: string;
  unavailable?: string;
}

/** Mic, camera, screen, hand, reactions; for interviewers the room's language and screen rule. */
export function Controls(props: {
  session: InterviewSession;
  languages: ReadonlyArray<ILanguageOption>;
}): JSX.Element {
  const { session, languages } = props;
  const { room, media } = session;
  const trans = useTrans();
  useSignals(media.changed, room.participantsChanged, room.changed, session.recordChanged, session.errorChanged);
  const state = media.state;
  const me = room.myId === null ? undefined : room.participants.get(room.myId);
  const hand = me?.handRaised ?? false;
  const staff = room.isStaff;
  const screenAllowed = session.mayShareScreen;
  const record = session.record;
  const [reactionsOpen, setReactionsOpen] = React.useState(false);
  const [devicesOpen, setDevicesOpen] = React.useState(false);
  return (
    <div className="jp-Interview-controls" role="toolbar" aria-label={trans.__('Call controls')}>
      <div className="jp-Interview-controlRow">
        <Toggle
          testid="ji-mic-toggle"
          pressed={state.mic}
          label={state.mic ? trans.__('Mute the microphone') : trans.__('Unmute the microphone')}
          icon={state.mic ? <micIcon.react tag="span" /> : <micOffIcon.react tag="span" />}
          onClick={() => session.toggleMic()}
          disabled={state.audio === null}
          danger={!state.mic}
        />
        <Toggle
          testid="ji-cam-toggle"
          pressed={state.cam}
          label={state.cam ? trans.__('Turn the camera off') : trans.__('Turn the camera on')}
          icon={state.cam ? <camIcon.react tag="span" /> : <camOffIcon.react tag="span" />}
          onClick={() => session.toggleCam()}
          disabled={state.camera === null}
          danger={!state.cam}
        />
        <Toggle
          testid="ji-screen-toggle"
          pressed={state.screen !== null}
          label={
            state.screen !== null ? trans.__('Stop sharing the screen') : trans.__('Share the screen')
          }
          title={
            screenAllowed || state.screen !== null
              ? undefined
              : trans.__('The interviewer has turned screen sharing off')
          }
          icon={<screenIcon.react tag="span" />}
          onClick={() => void session.toggleScreen()}
          disabled={!screenAllowed && state.screen === null}
        />
        <Toggle
          testid="ji-hand-toggle"
          pressed={hand}
          label={hand ? trans.__('Lower your hand') : trans.__('Raise your hand')}
          icon={<handIcon.react tag="span" />}
          onClick={() => room.raiseHand(!hand)}
        />
        <button
          type="button"
          className="jp-Interview-toggle"
          data-testid="ji-reactions"
          aria-expanded={reactionsOpen}
          aria-label={trans.__('React')}
          title={trans.__('React')}
          onClick={() => setReactionsOpen(!reactionsOpen)}
        >
          <reactIcon.react tag="span" />
        </button>
        <button
          type="button"
          className="jp-Interview-toggle"
          data-testid="ji-devices-toggle"
          aria-expanded={devicesOpen}
          aria-label={trans.__('Camera and microphone settings')}
          title={trans.__('Camera and microphone settings')}
          onClick={() => setDevicesOpen(!devicesOpen)}
        >
          <settingsIcon.react tag="span" />
        </button>
      </div>
      {devicesOpen && (
        <div className="jp-Interview-devices" role="group" aria-label={trans.__('Devices')}>
          <DevicePickers media={media} testids={['ji-panel-camera-select', 'ji-panel-mic-select']} />
        </div>
      )}
      {reactionsOpen && (
        <div className="jp-Interview-reactionPicker" role="group" aria-label={trans.__('Reactions')}>
          {REACTIONS.map(emoji => (
            <button
              type="button"
              key={emoji}
              className="jp-Interview-toggle"
              data-testid="ji-react"
              data-emoji={emoji}
              aria-label={trans.__('React with %1', emoji)}
              onClick={() => {
                room.react(emoji);
                setReactionsOpen(false);
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
      {staff && (
        <div className="jp-Interview-controlRow jp-Interview-staffRow">
          <label className="jp-Interview-field">
            <span>{trans.__('Language')}</span>
            <select
              data-testid="ji-language"
              className="jp-mod-styled"
              aria-label={trans.__("The room's language")}
              value={record?.language ?? ''}
              disabled={record === null || room.interviewState === 'ended'}
              onChange={event => void session.setLanguage(event.currentTarget.value)}
            >
              {record !== null && !languages.some(l => l.value === record.language) && (
                <option value={record.language}>{record.language}</option>
              )}
              {languages.map(l => (
                <option
                  key={l.value}
                  value={l.value}
                  disabled={l.unavailable !== undefined}
                  title={l.unavailable}
                >
                  {l.unavailable === undefined ? l.label : trans.__('%1 (unavailable)', l.label)}
                </option>
              ))}
            </select>
          </label>
          <label className="jp-Interview-field jp-Interview-check">
            <input
              type="checkbox"
              data-testid="ji-allow-screen"
              checked={session.candidateScreenAllowed}
              disabled={record === null || room.interviewState === 'ended'}
              onChange={event => void session.setCandidateScreenAllowed(event.currentTarget.checked)}
            />
            <span>{trans.__('Candidate may share the screen')}</span>
          </label>
        </div>
      )}
      {session.lastError !== null && (
        <p className="jp-Interview-notice jp-mod-error" role="alert" data-testid="ji-error">
          {session.lastError}
        </p>
      )}
    </div>
  );
}

/** Candidates knocking, with Admit and Deny (interviewers). */
export function Knocks(props: { session: InterviewSession }): JSX.Element | null {
  const { room } = props.session;
  const trans = useTrans();
  useSignals(room.knocksChanged, room.changed);
  if (!room.isStaff || room.knocks.size === 0) {
    return null;
  }
  return (
    <ul className="jp-Interview-knocks" aria-label={trans.__('Waiting to join')}>
      {[...room.knocks.values()].map(k => (
        <li key={k.participantId} className="jp-Interview-knock" data-testid="ji-knock" data-participant={k.participantId}>
          <span className="jp-Interview-knockText" role="status">
            {trans.__('%1 is waiting to join (since %2)', k.name, clockTime(k.at))}
          </span>
          <button
            type="button"
            className="jp-Interview-button jp-mod-accept"
            data-testid="ji-admit"
            aria-label={trans.__('Admit %1', k.name)}
            onClick={() => room.admit(k.participantId)}
          >
            {trans.__('Admit')}
          </button>
          <button
            type="button"
            className="jp-Interview-button jp-mod-reject"
            data-testid="ji-deny"
            aria-label={trans.__('Deny %1', k.name)}
            onClick={() => room.deny(k.participantId)}
          >
            {trans.__('Deny')}
          </button>
        </li>
      ))}
    </ul>
  );
}
