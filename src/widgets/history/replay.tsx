/**
 * The Replay view (interviewers and the owner): the notebook as it was at each moment of the
 * interview, a scrubbable timeline marking executions, chat, state changes and joins/leaves,
 * play/pause at 1x to 16x, and the events with what each execution output.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import {
  ICell,
  IChatEvent,
  IExecutionEvent,
  INotebook,
  IOtherEvent,
  IRoomAt,
  Replay,
  ReplayEvent,
  ReplayModel,
  SPEEDS,
  isChat,
  isExecution,
  isSpeed
} from '../../state/history';
import { TransContext, useSignals, useTrans } from '../common';
import { replayIcon } from './icons';
import { IMarker, MarkerKind, firstLine, formatDuration, markerKind, markers, timeOfDay } from './logic';
import { NotebookView, OutputsView } from './notebook';

/** Events shown in the side list (presence changes and automatic snapshots are too many). */
function listed(event: ReplayEvent): boolean {
  return markerKind(event.type) !== null || event.type === 'raise-hand' || event.type === 'replay-truncated';
}

function markerLabel(trans: TranslationBundle, kind: MarkerKind): string {
  return {
    execution: trans.__('Executions'),
    chat: trans.__('Chat'),
    state: trans.__('Interview state and timer'),
    presence: trans.__('Joins and leaves'),
    history: trans.__('Checkpoints and restores')
  }[kind];
}

function eventText(trans: TranslationBundle, replay: Replay, event: ReplayEvent): string {
  if (isExecution(event)) {
    return trans.__('%1 ran: %2', replay.name(event.participant_id) || trans.__('someone'), firstLine(event.code));
  }
  if (isChat(event)) {
    return `${event.name}: ${event.text}`;
  }
  const e = event as IOtherEvent;
  const who = replay.name((e.participant_id as string | undefined) ?? e.actor ?? null);
  switch (e.type) {
    case 'interview-state':
      return trans.__('Interview %1', String(e.state ?? ''));
    case 'timer':
      return trans.__('Timer %1', String(e.status ?? ''));
    case 'joined': {
      const p = (e.participant ?? {}) as { id?: string; name?: string };
      return trans.__('%1 joined', p.name ?? replay.name(p.id ?? e.actor ?? null));
    }
    case 'left':
      return trans.__('%1 left', who);
    case 'participant':
      return trans.__('%1: %2', String(e.name ?? who), String(e.status ?? ''));
    case 'waiting-room':
      return trans.__('Waiting room: %1 %2', String(e.action ?? ''), String(e.name ?? who));
    case 'checkpoint':
      return trans.__('Checkpoint “%1” by %2', String(e.label ?? ''), who || trans.__('the owner'));
    case 'restore':
      return trans.__('Snapshot %1 restored by %2', String(e.snapshot ?? ''), who || trans.__('the owner'));
    case 'restore-undone':
      return trans.__('Restore of snapshot %1 undone by %2', String(e.snapshot ?? ''), who || trans.__('the owner'));
    case 'raise-hand':
      return e.raised ? trans.__('%1 raised a hand', who) : trans.__('%1 lowered a hand', who);
    case 'replay-truncated':
      return trans.__('The replay stops here (it reached its size limit); later moments come from snapshots.');
    default:
      return e.type;
  }
}

function ExecutionDetail(props: { event: IExecutionEvent; replay: Replay }): JSX.Element {
  const { event } = props;
  const trans = useTrans();
  const verdict = event.document_outputs;
  return (
    <div className="jp-InterviewReplay-execution">
      <pre className="jp-InterviewReplay-code">{event.code}</pre>
      <div className="jp-InterviewHistory-muted">
        {trans.__('status %1', event.status)}
        {event.execution_count !== null && ` · [${event.execution_count}]`}
        {event.ended_at !== null &&
          ` · ${trans.__('%1 s', ((event.ended_at - event.started_at) || 0).toFixed(1))}`}
        {event.reason ? ` · ${event.reason}` : ''}
        {event.truncated && ` · ${trans.__('output cut')}`}
      </div>
      {verdict === 'differ' && (
        <p className="jp-InterviewReplay-differ" data-testid="ji-replay-differ" role="note">
          {trans.__('The notebook showed other outputs than the kernel sent; below is what the kernel sent.')}
        </p>
      )}
      {verdict === 'missing' && (
        <p className="jp-InterviewReplay-differ" role="note">
          {trans.__('The executed cell was no longer in the notebook.')}
        </p>
      )}
      <OutputsView outputs={event.outputs} />
    </div>
  );
}

function EventItem(props: {
  event: ReplayEvent;
  replay: Replay;
  past: boolean;
  current: boolean;
  onSeek: (ms: number) => void;
}): JSX.Element {
  const { event, replay } = props;
  const trans = useTrans();
  const [open, setOpen] = React.useState(false);
  const kind = markerKind(event.type) ?? 'other';
  const execution = isExecution(event) ? event : null;
  const classes = ['jp-InterviewReplay-event', `jp-mod-${kind}`];
  if (!props.past) {
    classes.push('jp-mod-future');
  }
  if (props.current) {
    classes.push('jp-mod-current');
  }
  return (
    <li
      className={classes.join(' ')}
      data-testid="ji-replay-event"
      data-type={event.type}
      data-t-ms={Math.round(event.t * 1000)}
      data-past={props.past ? 'true' : 'false'}
      data-document-outputs={execution?.document_outputs ?? undefined}
    >
      <button
        type="button"
        className="jp-InterviewReplay-eventButton"
        title={trans.__('Go to this moment')}
        onClick={() => props.onSeek(event.t * 1000)}
      >
        <span className="jp-InterviewReplay-eventTime">{formatDuration(event.t * 1000 - replay.startMs)}</span>
        <span className="jp-InterviewReplay-eventText">{eventText(trans, replay, event)}</span>
        {execution?.document_outputs === 'differ' && (
          <span className="jp-InterviewReplay-flag" title={trans.__('The notebook’s outputs differed from the kernel’s')}>
            ≠
          </span>
        )}
      </button>
      {execution !== null && (
        <button
          type="button"
          className="jp-InterviewReplay-more"
          aria-expanded={open}
          aria-label={open ? trans.__('Hide what it output') : trans.__('Show what it output')}
          onClick={() => setOpen(!open)}
        >
          {open ? '▾' : '▸'}
        </button>
      )}
      {execution !== null && open && <ExecutionDetail event={execution} replay={replay} />}
    </li>
  );
}

function EventList(props: { replay: Replay; ms: number; onSeek: (ms: number) => void; follow: boolean }): JSX.Element {
  const { replay, ms } = props;
  const trans = useTrans();
  const list = React.useRef<HTMLOListElement>(null);
  const events = React.useMemo(() => replay.events.map((e, i) => ({ e, i })).filter(x => listed(x.e)), [replay]);
  const past = replay.eventsUntil(ms);
  let current = -1;
  for (const { i } of events) {
    if (i < past) {
      current = i;
    }
  }
  React.useEffect(() => {
    if (props.follow && current >= 0) {
      list.current
        ?.querySelector<HTMLElement>('.jp-InterviewReplay-event.jp-mod-current')
        ?.scrollIntoView({ block: 'nearest' });
    }
  }, [current, props.follow]);
  return (
    <ol className="jp-InterviewReplay-events" ref={list} aria-label={trans.__('Events')}>
      {events.map(({ e, i }) => (
        <EventItem
          key={i}
          event={e}
          replay={replay}
          past={i < past}
          current={i === current}
          onSeek={props.onSeek}
        />
      ))}
    </ol>
  );
}

function Timeline(props: { replay: Replay; model: ReplayModel; ms: number }): JSX.Element {
  const { replay, model, ms } = props;
  const trans = useTrans();
  const clock = model.clock;
  const span = Math.max(0, Math.round(clock.endMs - clock.startMs));
  const marks = React.useMemo(
    () => markers(replay.events, clock.startMs, clock.endMs),
    [replay, clock.startMs, clock.endMs]
  );
  const seekBy = (delta: number): void => clock.seek(clock.position + delta);
  const onKey = (event: React.KeyboardEvent<HTMLInputElement>): void => {
    const step = event.shiftKey ? 10000 : 1000;
    if (event.key === 'ArrowRight' || event.key === 'ArrowUp') {
      seekBy(step);
    } else if (event.key === 'ArrowLeft' || event.key === 'ArrowDown') {
      seekBy(-step);
    } else if (event.key === 'PageUp') {
      seekBy(60000);
    } else if (event.key === 'PageDown') {
      seekBy(-60000);
    } else if (event.key === 'Home') {
      clock.seek(clock.startMs);
    } else if (event.key === 'End') {
      clock.seek(clock.endMs);
    } else if (event.key === ' ' || event.key === 'k') {
      clock.toggle();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
  };
  const lanes: MarkerKind[] = ['execution', 'chat', 'state', 'presence', 'history'];
  return (
    <div className="jp-InterviewReplay-timeline">
      <div className="jp-InterviewReplay-lanes" aria-hidden="true">
        {lanes.map(lane => (
          <div key={lane} className={`jp-InterviewReplay-lane jp-mod-${lane}`} title={markerLabel(trans, lane)}>
            {marks
              .filter((m: IMarker) => m.kind === lane)
              .map(m => (
                <span
                  key={m.index}
                  className={`jp-InterviewReplay-marker jp-mod-${m.kind}`}
                  data-testid="ji-replay-marker"
                  data-kind={m.kind}
                  style={{ left: `${(m.at * 100).toFixed(3)}%` }}
                  title={`${formatDuration(m.t * 1000 - clock.startMs)} ${eventText(trans, replay, replay.events[m.index])}`}
                  onClick={() => clock.seek(m.t * 1000)}
                />
              ))}
          </div>
        ))}
      </div>
      <input
        type="range"
        className="jp-InterviewReplay-scrubber"
        data-testid="ji-replay-scrubber"
        min={0}
        max={span}
        step={1}
        value={Math.round(ms - clock.startMs)}
        aria-label={trans.__('Moment of the interview')}
        aria-valuetext={trans.__('%1 of %2', formatDuration(ms - clock.startMs), formatDuration(span))}
        onChange={event => clock.seek(clock.startMs + Number(event.currentTarget.value))}
        onKeyDown={onKey}
      />
      <div className="jp-InterviewReplay-legend">
        {lanes.map(lane => (
          <span key={lane} className={`jp-InterviewReplay-legendItem jp-mod-${lane}`}>
            {markerLabel(trans, lane)}
          </span>
        ))}
      </div>
    </div>
  );
}

function RoomState(props: { room: IRoomAt }): JSX.Element {
  const { room } = props;
  const trans = useTrans();
  return (
    <div className="jp-InterviewReplay-room" aria-label={trans.__('The room at this moment')}>
      <span className="jp-InterviewReplay-chip" data-testid="ji-replay-state" data-state={room.interviewState ?? ''}>
        {room.interviewState ?? trans.__('not started')}
      </span>
      {room.timer !== null && (
        <span className="jp-InterviewReplay-chip" data-testid="ji-replay-timer" data-status={room.timer.status}>
          {trans.__('timer %1 (%2)', formatDuration(room.timer.remainingS * 1000), room.timer.status)}
        </span>
      )}
      {room.presence.map(p => (
        <span
          key={p.id}
          className={`jp-InterviewReplay-chip jp-mod-person jp-mod-${p.status}`}
          data-testid="ji-replay-person"
          data-participant={p.id}
          data-status={p.status}
          title={`${p.role} · ${p.status}`}
        >
          {p.name}
        </span>
      ))}
      {room.editing.length > 0 && (
        <span className="jp-InterviewHistory-muted">{trans.__('editing: %1', room.editing.join(', '))}</span>
      )}
    </div>
  );
}

function ChatSoFar(props: { chat: IChatEvent[] }): JSX.Element | null {
  const trans = useTrans();
  if (props.chat.length === 0) {
    return null;
  }
  return (
    <section className="jp-InterviewReplay-chat" aria-label={trans.__('Chat so far')}>
      <h3 className="jp-InterviewReplay-heading">{trans.__('Chat so far')}</h3>
      <ol>
        {props.chat.map((m, i) => (
          <li key={m.id ?? i}>
            <span className="jp-InterviewHistory-muted">{timeOfDay(m.t)} </span>
            <strong>{m.name}</strong>: {m.text}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The notebook at the moment; re-rendered only when the frame or the running cells change. */
const MomentNotebook = React.memo(function MomentNotebook(props: {
  notebook: INotebook;
  running: string;
  label: string;
  runningNote: string;
}): JSX.Element {
  const running = new Set(props.running.split('\n').filter(id => id !== ''));
  return (
    <NotebookView
      notebook={props.notebook}
      prefix="ji-replay"
      label={props.label}
      decorate={(cell: ICell) =>
        cell.id !== undefined && running.has(cell.id)
          ? {
              className: 'jp-mod-running',
              note: <span className="jp-InterviewReplay-running">{props.runningNote}</span>
            }
          : null
      }
    />
  );
});

function ReplayView(props: { model: ReplayModel }): JSX.Element {
  const { model } = props;
  const trans = useTrans();
  useSignals(model.changed, model.clock.changed);
  const replay = model.replay;
  const clock = model.clock;
  const header = (
    <header className="jp-InterviewHistory-header">
      <h2 className="jp-InterviewHistory-title">{trans.__('Session replay')}</h2>
      <button
        type="button"
        className="jp-Interview-button"
        data-testid="ji-replay-reload"
        disabled={model.loading}
        title={trans.__('Load what happened since (a live interview goes on)')}
        onClick={() => void model.load()}
      >
        {trans.__('Reload')}
      </button>
      {model.error !== null && (
        <span className="jp-InterviewHistory-error" role="alert">
          {model.error}
        </span>
      )}
    </header>
  );
  if (replay === null) {
    return (
      <div className="jp-InterviewReplay" data-testid="ji-replay" data-ready="false">
        {header}
        <p className="jp-InterviewHistory-empty">{model.loading ? trans.__('Loading the replay…') : ''}</p>
      </div>
    );
  }
  const ms = clock.position;
  const at = model.notebookAt(ms);
  const room = replay.roomAt(ms);
  const running = room.executions
    .filter(x => x.running && x.event.cell_id !== null)
    .map(x => x.event.cell_id)
    .join('\n');
  return (
    <div className="jp-InterviewReplay" data-testid="ji-replay" data-ready="true">
      {header}
      {replay.data.replay_truncated && (
        <p className="jp-InterviewHistory-muted">
          {trans.__('The replay reached its size limit: after its last frame the notebook comes from snapshots.')}
        </p>
      )}
      <div className="jp-InterviewReplay-controls">
        <button
          type="button"
          className={`jp-Interview-button${clock.playing ? ' jp-mod-pressed' : ' jp-mod-accept'}`}
          data-testid="ji-replay-play"
          data-playing={clock.playing ? 'true' : 'false'}
          aria-pressed={clock.playing}
          aria-label={clock.playing ? trans.__('Pause') : trans.__('Play')}
          onClick={() => clock.toggle()}
        >
          {clock.playing ? trans.__('❚❚ Pause') : trans.__('▶ Play')}
        </button>
        <label className="jp-InterviewReplay-speed">
          {trans.__('Speed')}
          <select
            data-testid="ji-replay-speed"
            aria-label={trans.__('Playback speed')}
            value={clock.speed}
            onChange={event => {
              const speed = Number(event.currentTarget.value);
              if (isSpeed(speed)) {
                clock.setSpeed(speed);
              }
            }}
          >
            {SPEEDS.map(s => (
              <option key={s} value={s}>
                {`${s}x`}
              </option>
            ))}
          </select>
        </label>
        <span
          className="jp-InterviewReplay-time"
          data-testid="ji-replay-time"
          data-t-ms={Math.round(ms)}
          data-frame={at.frame}
          data-source={at.source ?? ''}
          aria-live="off"
        >
          {`${formatDuration(ms - clock.startMs)} / ${formatDuration(clock.endMs - clock.startMs)}`}
          <span className="jp-InterviewHistory-muted">{` · ${timeOfDay(ms / 1000)}`}</span>
        </span>
        <RoomState room={room} />
      </div>
      <Timeline replay={replay} model={model} ms={ms} />
      <div className="jp-InterviewReplay-body">
        <div className="jp-InterviewReplay-notebook">
          {at.notebook === null ? (
            <p className="jp-InterviewHistory-empty">{trans.__('Nothing was recorded of the notebook yet at this moment.')}</p>
          ) : (
            <MomentNotebook
              notebook={at.notebook}
              running={running}
              label={trans.__('The notebook at this moment (read-only)')}
              runningNote={trans.__('running…')}
            />
          )}
        </div>
        <aside className="jp-InterviewReplay-side">
          <EventList replay={replay} ms={ms} onSeek={t => clock.seek(t)} follow={clock.playing} />
          <ChatSoFar chat={room.chat} />
        </aside>
      </div>
    </div>
  );
}

/** The Replay view as a main-area widget. */
export class ReplayWidget extends ReactWidget {
  constructor(
    readonly model: ReplayModel,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.id = `jp-Interview-replay-${model.roomId}`;
    this.addClass('jp-InterviewReplay-widget');
    this.title.icon = replayIcon;
    this.title.label = _trans.__('Replay');
    this.title.caption = _trans.__('Replay of the interview');
    this.title.closable = true;
  }

  override dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <TransContext.Provider value={this._trans}>
        <ReplayView model={this.model} />
      </TransContext.Provider>
    );
  }

  protected override onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.model.replay === null) {
      void this.model.load();
    }
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.clock.pause();
  }

  protected override onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    if (this.isAttached) {
      this.node.querySelector<HTMLElement>('[data-testid="ji-replay-play"]')?.focus();
    }
  }
}
