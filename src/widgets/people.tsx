/** Participants (presence, media, typing, hands) and the chat (history, typing, unread). */

import * as React from 'react';

import { RoomModel } from '../state/room';
import { clockTime, useSignals, useTrans } from './common';
import { camOffIcon, handIcon, micOffIcon, screenIcon } from './icons';
import { typingText } from './logic';

export function Participants(props: { room: RoomModel }): JSX.Element {
  const { room } = props;
  const trans = useTrans();
  useSignals(room.participantsChanged, room.typingChanged, room.changed);
  const people = [...room.participants.values()].sort((a, b) =>
    a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'candidate' ? 1 : -1
  );
  const roleLabel = (role: string): string =>
    ({
      owner: trans.__('owner'),
      interviewer: trans.__('interviewer'),
      candidate: trans.__('candidate')
    })[role] ?? role;
  const presenceLabel = (presence: string): string =>
    ({
      online: trans.__('online'),
      away: trans.__('away'),
      reconnecting: trans.__('reconnecting'),
      offline: trans.__('offline')
    })[presence] ?? presence;
  return (
    <ul className="jp-Interview-people" aria-label={trans.__('Participants')}>
      {people.map(p => {
        const typing = room.typing.has(p.id);
        const me = p.id === room.myId;
        return (
          <li
            key={p.id}
            className={`jp-Interview-person jp-mod-${p.presence}`}
            data-testid="ji-participant"
            data-participant={p.id}
            data-role={p.role}
            data-presence={p.presence}
            data-typing={typing ? 'true' : 'false'}
            data-hand={p.handRaised ? 'true' : 'false'}
            data-mic={p.media.mic ? 'on' : 'off'}
            data-cam={p.media.cam ? 'on' : 'off'}
            data-screen={p.media.screen ? 'on' : 'off'}
          >
            <span
              className="jp-Interview-presenceDot"
              role="img"
              aria-label={presenceLabel(p.presence)}
              title={presenceLabel(p.presence)}
            />
            <span className="jp-Interview-personName">
              {me ? trans.__('%1 (you)', p.name) : p.name}
            </span>
            <span className="jp-Interview-personRole">{roleLabel(p.role)}</span>
            <span className="jp-Interview-personIcons">
              {!p.media.mic && <micOffIcon.react tag="span" title={trans.__('Muted')} />}
              {!p.media.cam && <camOffIcon.react tag="span" title={trans.__('Camera off')} />}
              {p.media.screen && <screenIcon.react tag="span" title={trans.__('Sharing the screen')} />}
              {p.handRaised && (
                <handIcon.react tag="span" className="jp-mod-hand" title={trans.__('Hand raised')} />
              )}
              {typing && <span className="jp-Interview-typingDots" title={trans.__('typing')}>…</span>}
            </span>
          </li>
        );
      })}
    </ul>
  );
}

export function Chat(props: { room: RoomModel }): JSX.Element {
  const { room } = props;
  const trans = useTrans();
  useSignals(room.chatChanged, room.typingChanged, room.participantsChanged, room.connectionChanged);
  const [draft, setDraft] = React.useState('');
  const list = React.useRef<HTMLOListElement>(null);
  const count = room.chat.length;
  React.useEffect(() => {
    const el = list.current;
    if (el !== null) {
      el.scrollTop = el.scrollHeight;
    }
  }, [count]);
  const names = [...room.typing].map(id => room.participants.get(id)?.name ?? id);
  const send = (): void => {
    if (room.sendChat(draft) !== null) {
      setDraft('');
    }
  };
  return (
    <div className="jp-Interview-chat">
      <ol className="jp-Interview-messages" ref={list} aria-live="polite" aria-label={trans.__('Chat messages')}>
        {room.chat.map(m => (
          <li
            key={m.id}
            className={`jp-Interview-message${m.mine ? ' jp-mod-mine' : ''}${m.pending ? ' jp-mod-pending' : ''}${m.failed !== undefined ? ' jp-mod-failed' : ''}`}
            data-testid="ji-chat-message"
            data-from={m.from}
            data-id={m.id}
          >
            <span className="jp-Interview-messageMeta">
              <span className="jp-Interview-messageName">{m.mine ? trans.__('You') : m.name}</span>
              <time className="jp-Interview-messageTime">{clockTime(m.ts)}</time>
            </span>
            <span className="jp-Interview-messageText">{m.text}</span>
            {m.failed !== undefined && (
              <span className="jp-Interview-messageError" role="alert">
                {trans.__('Not sent: %1', m.failed)}
              </span>
            )}
          </li>
        ))}
      </ol>
      <div className="jp-Interview-typing" data-testid="ji-typing" aria-live="polite">
        {typingText(names, trans)}
      </div>
      <form
        className="jp-Interview-chatForm"
        onSubmit={event => {
          event.preventDefault();
          send();
        }}
      >
        <textarea
          className="jp-Interview-chatInput"
          data-testid="ji-chat-input"
          aria-label={trans.__('Chat message')}
          placeholder={trans.__('Message (Enter to send, Shift+Enter for a new line)')}
          rows={2}
          maxLength={4000}
          value={draft}
          onChange={event => {
            const text = event.currentTarget.value;
            setDraft(text);
            room.setTyping(text.trim().length > 0);
          }}
          onBlur={() => room.setTyping(false)}
          onKeyDown={event => {
            if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
              event.preventDefault();
              send();
            }
            // Keep JupyterLab's shortcuts (notebook commands) out of the chat box.
            event.stopPropagation();
          }}
        />
        <button
          type="submit"
          className="jp-Interview-button jp-mod-accept"
          data-testid="ji-chat-send"
          disabled={draft.trim().length === 0}
        >
          {trans.__('Send')}
        </button>
      </form>
    </div>
  );
}
