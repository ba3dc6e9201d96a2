// Generated from jupyter_interview/signaling/schemas/*.json, the schemas the server validates with.
// Do not edit: change the schemas, then regenerate with `python -m jupyter_interview.signaling.typegen`.

/** The envelope's `v`: the protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/**
 * Payload of `activity` (server to client). Summaries from the collaboration layer, to interviewers
 * only: who edited which cell, moved their cursor, ran a cell. Throttled per participant, kind and
 * cell; `count` says how many changes one event sums up.
 */
export interface ActivityPayload {
  kind: 'code-change' | 'cursor-move' | 'cell-executed';
  participant_id?: string;
  /** The participant's name from their invite (never from the client). */
  name?: string;
  role?: 'interviewer' | 'candidate';
  /** The cell's id (nbformat); absent when the change was not to one cell. */
  cell?: string;
  /** The cell's position in the notebook (0-based) when the event was made. */
  index?: number;
  /** cursor-move: the cursor's line in the cell (1-based). */
  line?: number;
  /** cell-executed: how the execution ended, as the server saw the kernel answer. */
  status?: 'ok' | 'error' | 'aborted' | 'timeout' | 'died' | 'restarted';
  execution_count?: number;
  summary?: string;
  /** How many changes this event sums up (1 unless throttling merged several). */
  count?: number;
}

/** Payload of `chat-message` (both ways). Persisted; the server fills id, ts and name. */
export interface ChatMessagePayload {
  text: string;
  id?: string;
  ts?: number;
  name?: string;
}

/**
 * Payload of `error` (server to client). A refused message: stable code, human message, the
 * offending message id.
 */
export interface ErrorPayload {
  code: string;
  message: string;
  id?: string | null;
}

/**
 * Payload of `hello` (client to server). First message on a socket. `resume` is the last seq the
 * client saw.
 */
export interface HelloPayload {
  resume?: number;
  /** What the participant is sending. */
  media?: {
    mic?: boolean;
    cam?: boolean;
    screen?: boolean;
  };
  client?: string;
}

/**
 * Payload of `ice-candidate` (both ways). A trickled ICE candidate (empty candidate: end of
 * candidates). Relayed only to `to`.
 */
export interface IceCandidatePayload {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

/** Payload of `ice-restart` (both ways). Ask `to` to restart ICE. Relayed only to `to`. */
export interface IceRestartPayload {
  reason?: string;
}

/**
 * Payload of `interview-state` (both ways). Client (interviewer): live (Start) or ended (End).
 * Server: the new state.
 */
export interface InterviewStatePayload {
  state: 'scheduled' | 'waiting' | 'live' | 'ended';
}

/**
 * Payload of `kernel` (server to client). The room's kernel status, to admitted members (busy/idle
 * coalesced to one event per status_interval_s). A new kernel_id (language switch, warm kernel)
 * means the notebook's session has a new kernel: refresh the sessions. limit: an execution hit the
 * room's time limit; dead: the kernel died or was stopped (reason says why).
 */
export interface KernelPayload {
  status: 'starting' | 'idle' | 'busy' | 'restarting' | 'dead' | 'limit';
  /** The room language the kernel runs. */
  language: string;
  /** Absent only while a start has not yet given the kernel an id. */
  kernel_id?: string;
  /**
   * Why, for dead, limit and restarting: the sandbox's exit reason (e.g. out of memory), the limit
   * hit, or why the server stopped it.
   */
  reason?: string;
}

/** Payload of `presence` (both ways). Presence and media state; the server fills participant_id. */
export interface PresencePayload {
  status?: 'online' | 'away' | 'reconnecting' | 'offline';
  /** What the participant is sending. */
  media?: {
    mic?: boolean;
    cam?: boolean;
    screen?: boolean;
  };
  participant_id?: string;
}

/** Payload of `raise-hand` (both ways). Raise or lower a hand. */
export interface RaiseHandPayload {
  raised: boolean;
}

/** Payload of `reaction` (both ways). A short-lived reaction. */
export interface ReactionPayload {
  emoji: string;
}

/** Payload of `sdp-answer` (both ways). Relayed only to `to`. */
export interface SdpAnswerPayload {
  sdp: string;
  type?: 'answer';
}

/** Payload of `sdp-offer` (both ways). Relayed only to `to`. */
export interface SdpOfferPayload {
  sdp: string;
  type?: 'offer';
}

/**
 * Payload of `timer` (both ways). Client (interviewer): an action. Server: the timer's state after
 * every change, and `expired`.
 */
export interface TimerPayload {
  action?: 'start' | 'pause' | 'resume' | 'extend';
  minutes?: number;
  status?: 'idle' | 'running' | 'paused' | 'expired';
  duration_s?: number;
  elapsed_s?: number;
  started_at?: number | null;
  ends_at?: number | null;
  server_now?: number;
}

/** Payload of `typing` (both ways). Ephemeral. */
export interface TypingPayload {
  typing: boolean;
}

/** Payload of `user-joined` (server to client). A participant connected. */
export interface UserJoinedPayload {
  participant: {
    id: string;
    name: string;
    role: 'owner' | 'interviewer' | 'candidate';
    status?: string;
    presence?: 'online' | 'away' | 'reconnecting' | 'offline';
    /** What the participant is sending. */
    media?: {
      mic?: boolean;
      cam?: boolean;
      screen?: boolean;
    };
    hand_raised?: boolean;
  };
}

/**
 * Payload of `user-left` (server to client). A participant left, or stayed away past the grace
 * period.
 */
export interface UserLeftPayload {
  participant_id: string;
}

/**
 * Payload of `waiting-room` (both ways). Candidate: knock. Interviewer: admit or deny
 * `participant_id`. Server: tells both sides.
 */
export interface WaitingRoomPayload {
  action: 'knock' | 'admit' | 'deny';
  participant_id?: string;
  name?: string;
}

/**
 * Payload of `welcome` (server to client). Answer to hello: clock, room state, participants and
 * recent history (for a waiting candidate only the room state).
 */
export interface WelcomePayload {
  participant_id: string;
  role: string;
  status?: string;
  server_now: number;
  room_state: 'scheduled' | 'waiting' | 'live' | 'ended';
  participants?: Array<{
    id: string;
    name: string;
    role: 'owner' | 'interviewer' | 'candidate';
    status?: string;
    presence?: 'online' | 'away' | 'reconnecting' | 'offline';
    /** What the participant is sending. */
    media?: {
      mic?: boolean;
      cam?: boolean;
      screen?: boolean;
    };
    hand_raised?: boolean;
  }>;
  chat?: Array<{
    id: string;
    from: string;
    name: string;
    text: string;
    ts: number;
    seq?: number;
  }>;
  /**
   * elapsed_s is measured at server_now, so while running the time left is ends_at - now (=
   * duration_s - elapsed_s - (now - server_now)), with `now` on the server clock: clients correct
   * theirs by the offset from server_now.
   */
  timer?: {
    status: 'idle' | 'running' | 'paused' | 'expired';
    duration_s: number;
    elapsed_s: number;
    started_at?: number | null;
    ends_at?: number | null;
    server_now: number;
  };
  seq: number;
  resumed: boolean;
  settings?: Record<string, unknown>;
  /** The room notebook's kernel now (as the kernel event says it); absent when it has none. */
  kernel?: {
    status: 'starting' | 'idle' | 'busy' | 'restarting' | 'dead' | 'limit';
    language: string;
    kernel_id?: string;
    reason?: string;
  };
}

/** Every event type. */
export type EventType =
  | 'activity'
  | 'chat-message'
  | 'error'
  | 'hello'
  | 'ice-candidate'
  | 'ice-restart'
  | 'interview-state'
  | 'kernel'
  | 'presence'
  | 'raise-hand'
  | 'reaction'
  | 'sdp-answer'
  | 'sdp-offer'
  | 'timer'
  | 'typing'
  | 'user-joined'
  | 'user-left'
  | 'waiting-room'
  | 'welcome';

/** Event types a client may send. */
export type ClientEventType =
  | 'chat-message'
  | 'hello'
  | 'ice-candidate'
  | 'ice-restart'
  | 'interview-state'
  | 'presence'
  | 'raise-hand'
  | 'reaction'
  | 'sdp-answer'
  | 'sdp-offer'
  | 'timer'
  | 'typing'
  | 'waiting-room';

/** Event types the server sends. */
export type ServerEventType =
  | 'activity'
  | 'chat-message'
  | 'error'
  | 'ice-candidate'
  | 'ice-restart'
  | 'interview-state'
  | 'kernel'
  | 'presence'
  | 'raise-hand'
  | 'reaction'
  | 'sdp-answer'
  | 'sdp-offer'
  | 'timer'
  | 'typing'
  | 'user-joined'
  | 'user-left'
  | 'waiting-room'
  | 'welcome';

/** The payload type of each event type. */
export interface EventPayloads {
  activity: ActivityPayload;
  'chat-message': ChatMessagePayload;
  error: ErrorPayload;
  hello: HelloPayload;
  'ice-candidate': IceCandidatePayload;
  'ice-restart': IceRestartPayload;
  'interview-state': InterviewStatePayload;
  kernel: KernelPayload;
  presence: PresencePayload;
  'raise-hand': RaiseHandPayload;
  reaction: ReactionPayload;
  'sdp-answer': SdpAnswerPayload;
  'sdp-offer': SdpOfferPayload;
  timer: TimerPayload;
  typing: TypingPayload;
  'user-joined': UserJoinedPayload;
  'user-left': UserLeftPayload;
  'waiting-room': WaitingRoomPayload;
  welcome: WelcomePayload;
}

/**
 * Every message, both ways. The server sets room, from, seq and ts; a client may send them only
 * with the right values.
 */
export interface Envelope<T extends EventType = EventType> {
  v: 1;
  type: T;
  id: string;
  room?: string;
  from?: string;
  to?: string;
  seq?: number;
  ts?: number;
  payload: EventPayloads[T];
}

/** Any one message: a union discriminated by `type`, so a switch on it narrows `payload`. */
export type AnyEnvelope = { [K in EventType]: Envelope<K> }[EventType];
