/**
 * The room's real-time socket: one WebSocket to `interview/api/rooms/{id}/ws`, hello and welcome,
 * the highest `seq` seen, and reconnecting by itself with backoff and resume (docs/events.md).
 */

import { ISignal, Signal } from '@lumino/signaling';

import {
  AnyEnvelope,
  ClientEventType,
  EventPayloads,
  HelloPayload,
  PROTOCOL_VERSION,
  ServerEventType,
  WelcomePayload
} from './events';
import { Handler, Scheduler, realScheduler } from './runtime';

/** The part of a WebSocket this client uses; the browser's `WebSocket` fits it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: the browser's, or a fake in tests. */
export type WebSocketFactory = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN`. */
const OPEN = 1;

/** What a client may send through `send`: `hello` is the client's own business. */
export type SendableType = Exclude<ClientEventType, 'hello'>;

/**
 * - `connecting`: the first connection is being made (hello sent, no welcome yet), or retried;
 * - `open`: welcomed; sends go straight out;
 * - `reconnecting`: a welcomed connection dropped; waiting for the next try or its welcome;
 * - `closed`: for good (see `IConnectionStatus.terminal`).
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Why a client closed for good. */
export type TerminalReason =
  | 'replaced' // 4001: the same participant opened the room in another tab
  | 'forbidden' // 4003: the invite was revoked or the session ended
  | 'gone' // 4004: the room was deleted
  | 'policy' // 1008: the server closed the socket for abuse
  | 'client'; // `close()` or `dispose()` was called

/** Close codes after which reconnecting cannot help (docs/events.md, "Close codes"). */
export const TERMINAL_CLOSE_CODES: Readonly<Record<number, TerminalReason>> = {
  1008: 'policy',
  4001: 'replaced',
  4003: 'forbidden',
  4004: 'gone'
};

export interface IConnectionStatus {
  readonly state: ConnectionState;
  /** With `closed`: why, with the server's close code and reason when it closed the socket. */
  readonly terminal?: {
    readonly reason: TerminalReason;
    readonly code: number;
    readonly message: string;
  };
  /** With a retry pending: the delay before it, and how many tries failed in a row. */
  readonly retryInMs?: number;
  readonly attempt?: number;
}

/** A message of ours that came back from the server (an echo carries our id). */
export interface IRoundTrip {
  /** Local clock when we sent it, ms. */
  readonly sentAt: number;
  /** The server's `ts` on the echo, seconds. */
  readonly serverTs: number;
  /** Local clock when the echo arrived, ms. */
  readonly receivedAt: number;
}

/** What the room model and the media mesh need from the socket; tests give fakes of it. */
export interface ISignalingPort {
  readonly message: ISignal<unknown, AnyEnvelope>;
  send<K extends SendableType>(type: K, payload: EventPayloads[K], to?: string): string | null;
}

/** The whole client as the room model sees it. */
export interface ISignalingClient extends ISignalingPort {
  readonly status: IConnectionStatus;
  readonly stateChanged: ISignal<unknown, IConnectionStatus>;
  readonly roundTrip: ISignal<unknown, IRoundTrip>;
}

export interface IBackoffOptions {
  /** The first retry waits up to this long, ms. */
  baseMs: number;
  /** No retry waits longer, ms. */
  capMs: number;
  /** A connection welcomed this long ago counts as stable: the next drop starts from base again. */
  stableMs: number;
  /**
   * If set, no wait exceeds this fraction of the time the connection has been down (but at least
   * `baseMs`): after a short outage the client comes back within a fraction of it, while a long
   * one still backs off up to `capMs`. Off by default.
   */
  outageFraction?: number;
}

export const DEFAULT_BACKOFF: IBackoffOptions = {
  baseMs: 250,
  capMs: 10_000,
  stableMs: 5_000
};

/**
 * Exponential backoff with full jitter: a uniform wait in [0, min(cap, base * 2^attempt)).
 * Full jitter spreads the clients of a restarted server over the whole window instead of having
 * them all come back in lockstep.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  options: Pick<IBackoffOptions, 'baseMs' | 'capMs'> = DEFAULT_BACKOFF
): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** attempt);
  return random() * ceiling;
}

/** Where the server is: `ServerConnection.ISettings` fits. */
export interface IServerLocation {
  readonly baseUrl: string;
  /** The websocket form of `baseUrl`; derived from it (http -> ws, https -> wss) when empty. */
  readonly wsUrl?: string;
  readonly token?: string;
  readonly appendToken?: boolean;
}

/** The room socket's URL: `{wsUrl}interview/api/rooms/{id}/ws`. */
export function roomSocketUrl(location: IServerLocation, roomId: string): string {
  let base = location.wsUrl || location.baseUrl.replace(/^http(s?):/i, 'ws$1:');
  if (!base.endsWith('/')) {
    base += '/';
  }
  let url = `${base}interview/api/rooms/${encodeURIComponent(roomId)}/ws`;
  if (location.appendToken && location.token) {
    url += `?token=${encodeURIComponent(location.token)}`;
  }
  return url;
}

export interface ISignalingClientOptions {
  /** The socket URL, see `roomSocketUrl`. */
  url: string;
  /** Defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketFactory;
  scheduler?: Scheduler;
  /** Uniform in [0, 1): the jitter. Defaults to `Math.random`. */
  random?: () => number;
  backoff?: Partial<IBackoffOptions>;
  /** A try that has no welcome after this long is abandoned and retried, ms. */
  openTimeoutMs?: number;
  /** At most this many messages wait for the connection to come back; older ones are dropped. */
  queueLimit?: number;
  /** Extra hello fields (media state, client name), read at every (re)connection. */
  hello?: () => Omit<HelloPayload, 'resume'>;
}

/**
 * Event types that make no sense late, dropped instead of queued while the socket is down: a
 * typing indicator or a reaction sent 20 s late would be wrong, not just late. Presence and raised
 * hands are state: only the latest queued one is kept. Everything else (chat, SDP and ICE, timer
 * and room control, knocks) waits for the connection, up to `queueLimit`.
 */
const EPHEMERAL: ReadonlySet<SendableType> = new Set<SendableType>(['typing', 'reaction']);
const LATEST_ONLY: ReadonlySet<SendableType> = new Set<SendableType>(['presence', 'raise-hand']);

/** The server's event types, checked against the generated union so that a new one is noticed. */
const SERVER_EVENTS: Record<ServerEventType, true> = {
  activity: true,
  'chat-message': true,
  error: true,
  'ice-candidate': true,
  'ice-restart': true,
  'interview-state': true,
  kernel: true,
  presence: true,
  'raise-hand': true,
  reaction: true,
  'sdp-answer': true,
  'sdp-offer': true,
  timer: true,
  typing: true,
  'user-joined': true,
  'user-left': true,
  'waiting-room': true,
  welcome: true
};

function isServerEventType(type: string): type is ServerEventType {
  return Object.prototype.hasOwnProperty.call(SERVER_EVENTS, type);
}

/**
 * Reads one frame. The server validated what it relays against the same schemas the types come
 * from, so this checks only the envelope and the event type, not each payload.
 */
export function parseEnvelope(data: unknown): AnyEnvelope | null {
  if (typeof data !== 'string') {
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    !('v' in value) ||
    value.v !== PROTOCOL_VERSION ||
    !('type' in value) ||
    typeof value.type !== 'string' ||
    !isServerEventType(value.type) ||
    !('id' in value) ||
    typeof value.id !== 'string' ||
    !('payload' in value) ||
    typeof value.payload !== 'object' ||
    value.payload === null
  ) {
    return null;
  }
  return value as AnyEnvelope;
}

interface IOutgoing {
  type: SendableType;
  text: string;
  id: string;
}

/** How many sent ids are remembered to time their echoes. */
const ROUND_TRIP_MEMORY = 64;

/**
 * The room socket. Call `connect()` once; it then keeps itself connected until a terminal close
 * code, `close()` or `dispose()`.
 *
 * Seq: the highest `seq` of the room's events seen. `welcome` and `error` are sent outside the
 * room's sequence and carry the room's current counter, so they do not count: a resumed welcome
 * is followed by the replay of older seqs, and counting its seq would skip the replay if the
 * socket dropped again during it. `welcome` with `resumed: false` sets the seq to its payload's
 * `seq` (downwards too: after a server restart the counter starts anew).
 */
export class SignalingClient implements ISignalingClient {
  constructor(options: ISignalingClientOptions) {
    this._url = options.url;
    this._factory = options.WebSocket;
    this._scheduler = options.scheduler ?? realScheduler;
    this._random = options.random ?? Math.random;
    this._backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this._openTimeoutMs = options.openTimeoutMs ?? 10_000;
    this._queueLimit = options.queueLimit ?? 200;
    this._hello = options.hello ?? (() => ({}));
    this._idPrefix = `c${Math.floor(this._random() * 2 ** 32).toString(36)}`;
  }

  get status(): IConnectionStatus {
    return this._status;
  }

  get state(): ConnectionState {
    return this._status.state;
  }

  /** The highest room seq seen, or null before the first welcome. */
  get lastSeq(): number | null {
    return this._lastSeq;
  }

  /** The last welcome's payload. */
  get lastWelcome(): WelcomePayload | null {
    return this._lastWelcome;
  }

  /** Messages waiting for the connection. */
  get queued(): number {
    return this._queue.length;
  }

  /** Messages dropped: ephemeral ones sent while down, and the oldest when the queue overflowed. */
  get dropped(): number {
    return this._dropped;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get stateChanged(): ISignal<this, IConnectionStatus> {
    return this._stateChanged;
  }

  /** Every event the server sends, `welcome` included, in order. */
  get message(): ISignal<this, AnyEnvelope> {
    return this._message;
  }

  /** Each welcome, before it is emitted on `message`. */
  get welcome(): ISignal<this, WelcomePayload> {
    return this._welcome;
  }

  get roundTrip(): ISignal<this, IRoundTrip> {
    return this._roundTrip;
  }

  /** Start connecting; does nothing once started. */
  connect(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    this._open();
  }

  /** Skip the wait before a pending retry (the page came back online, say). */
  reconnectNow(): void {
    if (this._retry !== null) {
      this._retry();
      this._retry = null;
      this._open();
    }
  }

  /**
   * Send an event. Returns its id, or null when it was dropped (the client is closed, or the event
   * is ephemeral and the socket is down). While the socket is down other events are queued and go
   * out after the next welcome.
   */
  send<K extends SendableType>(type: K, payload: EventPayloads[K], to?: string): string | null {
    if (this._status.state === 'closed' || this._disposed) {
      return null;
    }
    const id = `${this._idPrefix}-${++this._counter}`;
    const envelope: { v: 1; type: K; id: string; payload: EventPayloads[K]; to?: string } = {
      v: PROTOCOL_VERSION,
      type,
      id,
      payload
    };
    if (to !== undefined) {
      envelope.to = to;
    }
    const out: IOutgoing = { type, text: JSON.stringify(envelope), id };
    const ws = this._ws;
    if (this._status.state === 'open' && ws !== null && ws.readyState === OPEN) {
      this._transmit(ws, out);
      return id;
    }
    if (EPHEMERAL.has(type)) {
      this._dropped++;
      return null;
    }
    if (LATEST_ONLY.has(type)) {
      this._queue = this._queue.filter(queued => queued.type !== type);
    }
    this._queue.push(out);
    while (this._queue.length > this._queueLimit) {
      this._queue.shift();
      this._dropped++;
    }
    return id;
  }

  /** Close for good (the page leaves the room). */
  close(): void {
    this._terminate('client', 1000, 'closed by the client');
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this.close();
    this._disposed = true;
    Signal.clearData(this);
  }

  private _open(): void {
    const Factory = this._factory ?? defaultWebSocket();
    if (Factory === undefined) {
      this._terminate('client', 0, 'this environment has no WebSocket');
      return;
    }
    this._welcomedOnSocket = false;
    this._setStatus({
      state: this._everWelcomed ? 'reconnecting' : 'connecting',
      attempt: this._attempt
    });
    let ws: WebSocketLike;
    try {
      ws = new Factory(this._url);
    } catch (reason) {
      // A malformed URL throws synchronously; treat it like a failed try.
      console.warn('jupyter-interview: cannot open the room socket', reason);
      this._scheduleRetry();
      return;
    }
    this._ws = ws;
    ws.onopen = () => {
      if (ws !== this._ws) {
        return;
      }
      const hello: HelloPayload = { ...this._hello() };
      if (this._lastSeq !== null) {
        hello.resume = this._lastSeq;
      }
      const id = `${this._idPrefix}-${++this._counter}`;
      ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'hello', id, payload: hello }));
    };
    ws.onmessage = event => {
      if (ws === this._ws) {
        this._receive(event.data);
      }
    };
    ws.onclose = event => {
      if (ws === this._ws) {
        this._closed(event.code, event.reason);
      }
    };
    ws.onerror = () => {
      // A close event follows every error; it decides what happens next.
    };
    this._cancelOpenTimeout = this._scheduler.after(this._openTimeoutMs, () => {
      this._cancelOpenTimeout = null;
      if (ws === this._ws && !this._welcomedOnSocket) {
        this._drop(ws, 'no welcome in time');
        this._scheduleRetry();
      }
    });
  }

  private _receive(data: unknown): void {
    const envelope = parseEnvelope(data);
    if (envelope === null) {
      console.warn('jupyter-interview: ignored a frame that is not a known event');
      return;
    }
    const receivedAt = this._scheduler.now();
    const sentAt = this._sentAt.get(envelope.id);
    if (sentAt !== undefined) {
      this._sentAt.delete(envelope.id);
      if (typeof envelope.ts === 'number') {
        this._roundTrip.emit({ sentAt, serverTs: envelope.ts, receivedAt });
      }
    }
    if (envelope.type === 'welcome') {
      this._welcomed(envelope.payload);
    } else if (envelope.type !== 'error' && typeof envelope.seq === 'number') {
      this._lastSeq = this._lastSeq === null ? envelope.seq : Math.max(this._lastSeq, envelope.seq);
    }
    this._message.emit(envelope);
    if (envelope.type === 'welcome') {
      this._flush();
    }
  }

  private _welcomed(payload: WelcomePayload): void {
    const answersHello = !this._welcomedOnSocket;
    this._welcomedOnSocket = true;
    this._everWelcomed = true;
    this._lastWelcome = payload;
    if (!payload.resumed) {
      // A welcome in the middle of a socket (admission, the interview going live) cannot move the
      // room's counter backwards; one that answers our hello after a restart may.
      this._lastSeq =
        answersHello || this._lastSeq === null ? payload.seq : Math.max(this._lastSeq, payload.seq);
    }
    if (answersHello) {
      this._downSince = null;
      this._cancelOpenTimeout?.();
      this._cancelOpenTimeout = null;
      this._cancelStable?.();
      this._cancelStable = this._scheduler.after(this._backoff.stableMs, () => {
        this._cancelStable = null;
        this._attempt = 0;
      });
      this._setStatus({ state: 'open' });
    }
    this._welcome.emit(payload);
  }

  private _flush(): void {
    const ws = this._ws;
    while (
      this._queue.length > 0 &&
      ws !== null &&
      ws.readyState === OPEN &&
      this._status.state === 'open'
    ) {
      const out = this._queue.shift();
      if (out !== undefined) {
        this._transmit(ws, out);
      }
    }
  }

  private _transmit(ws: WebSocketLike, out: IOutgoing): void {
    ws.send(out.text);
    this._sentAt.set(out.id, this._scheduler.now());
    if (this._sentAt.size > ROUND_TRIP_MEMORY) {
      const oldest = this._sentAt.keys().next();
      if (!oldest.done) {
        this._sentAt.delete(oldest.value);
      }
    }
  }

  private _closed(code: number, reason: string): void {
    this._ws = null;
    this._cancelTimers();
    const terminal = TERMINAL_CLOSE_CODES[code];
    if (terminal !== undefined) {
      this._terminate(terminal, code, reason);
      return;
    }
    this._scheduleRetry();
  }

  private _scheduleRetry(): void {
    const now = this._scheduler.now();
    this._downSince ??= now;
    let delay = backoffDelay(this._attempt, this._random, this._backoff);
    const fraction = this._backoff.outageFraction;
    if (fraction !== undefined) {
      delay = Math.min(delay, Math.max(this._backoff.baseMs, fraction * (now - this._downSince)));
    }
    this._attempt++;
    this._setStatus({
      state: this._everWelcomed ? 'reconnecting' : 'connecting',
      retryInMs: delay,
      attempt: this._attempt
    });
    this._retry = this._scheduler.after(delay, () => {
      this._retry = null;
      this._open();
    });
  }

  /** Stop listening to a socket and close it; its own close event is then ignored. */
  private _drop(ws: WebSocketLike, reason: string): void {
    this._ws = null;
    this._cancelTimers();
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000, reason);
    } catch {
      // Closing a socket that never opened may throw in some browsers; it is gone either way.
    }
  }

  private _terminate(reason: TerminalReason, code: number, message: string): void {
    if (this._status.state === 'closed') {
      return;
    }
    this._retry?.();
    this._retry = null;
    if (this._ws !== null) {
      this._drop(this._ws, message);
    }
    this._cancelTimers();
    this._queue = [];
    this._setStatus({ state: 'closed', terminal: { reason, code, message } });
  }

  private _cancelTimers(): void {
    this._cancelOpenTimeout?.();
    this._cancelOpenTimeout = null;
    this._cancelStable?.();
    this._cancelStable = null;
  }

  private _setStatus(status: IConnectionStatus): void {
    const before = this._status;
    this._status = status;
    if (
      before.state !== status.state ||
      before.retryInMs !== status.retryInMs ||
      before.attempt !== status.attempt
    ) {
      this._stateChanged.emit(status);
    }
  }

  private readonly _url: string;
  private readonly _factory: WebSocketFactory | undefined;
  private readonly _scheduler: Scheduler;
  private readonly _random: () => number;
  private readonly _backoff: IBackoffOptions;
  private readonly _openTimeoutMs: number;
  private readonly _queueLimit: number;
  private readonly _hello: () => Omit<HelloPayload, 'resume'>;
  private readonly _idPrefix: string;
  private _counter = 0;
  private _status: IConnectionStatus = { state: 'connecting' };
  private _started = false;
  private _disposed = false;
  private _ws: WebSocketLike | null = null;
  private _welcomedOnSocket = false;
  private _everWelcomed = false;
  private _attempt = 0;
  /** When the connection was lost (or the first try began failing), local ms; null while up. */
  private _downSince: number | null = null;
  private _lastSeq: number | null = null;
  private _lastWelcome: WelcomePayload | null = null;
  private _queue: IOutgoing[] = [];
  private _dropped = 0;
  private readonly _sentAt = new Map<string, number>();
  private _retry: (() => void) | null = null;
  private _cancelOpenTimeout: (() => void) | null = null;
  private _cancelStable: (() => void) | null = null;
  private readonly _stateChanged = new Signal<this, IConnectionStatus>(this);
  private readonly _message = new Signal<this, AnyEnvelope>(this);
  private readonly _welcome = new Signal<this, WelcomePayload>(this);
  private readonly _roundTrip = new Signal<this, IRoundTrip>(this);
}

/** The page's WebSocket, looked up when first needed (tests and Node have none). */
function defaultWebSocket(): WebSocketFactory | undefined {
  const candidate: WebSocketFactory | undefined = globalThis.WebSocket;
  return candidate;
}
