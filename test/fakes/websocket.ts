// A WebSocket the test plays the server of: it opens, delivers frames and closes when told to.
import { WebSocketLike } from '../../src/signaling/client';
import { EventPayloads, ServerEventType } from '../../src/signaling/events';

type Handler<E> = ((event: E) => void) | null;

export interface ISentFrame {
  type: string;
  id: string;
  to?: string;
  payload: Record<string, unknown>;
}

let frames = 0;

/** What a test makes the server send: an envelope, typed by its event type. */
export type IServerFrame = {
  [K in ServerEventType]: {
    type: K;
    payload: EventPayloads[K];
    id?: string;
    seq?: number;
    ts?: number;
    from?: string;
    to?: string;
    room?: string;
  };
}[ServerEventType];

export class FakeWebSocket implements WebSocketLike {
  constructor(readonly url: string) {}

  readyState = 0;
  onopen: Handler<unknown> = null;
  onmessage: Handler<{ readonly data: unknown }> = null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> = null;
  onerror: Handler<unknown> = null;
  readonly sent: ISentFrame[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;

  send(data: string): void {
    if (this.readyState !== 1) {
      throw new Error(`send on a socket in state ${this.readyState}`);
    }
    this.sent.push(JSON.parse(data) as ISentFrame);
  }

  close(code?: number, reason?: string): void {
    this.closedByClient = { code, reason };
    this.readyState = 3;
  }

  // ---- the server's side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** A server frame; `id` defaults to a fresh one. */
  deliver(envelope: IServerFrame): void {
    this.deliverRaw(JSON.stringify({ v: 1, id: `s${++frames}`, ...envelope }));
  }

  deliverRaw(data: unknown): void {
    this.onmessage?.({ data });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** A WebSocket constructor that remembers every socket it made. */
export function fakeWebSockets(): {
  sockets: FakeWebSocket[];
  WebSocket: new (url: string) => FakeWebSocket;
  last(): FakeWebSocket;
} {
  const sockets: FakeWebSocket[] = [];
  class RecordedWebSocket extends FakeWebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return {
    sockets,
    WebSocket: RecordedWebSocket,
    last: () => {
      const socket = sockets[sockets.length - 1];
      if (socket === undefined) {
        throw new Error('no socket was opened');
      }
      return socket;
    }
  };
}
