// A fake RTCPeerConnection that models what perfect negotiation depends on (no real media or ICE):
// - the operations chain: setLocalDescription, setRemoteDescription and addIceCandidate run one
//   after another, each a few microtasks later, as in a browser;
// - signalingState: stable -> have-local-offer -> stable (answer), stable -> have-remote-offer ->
//   stable, rollback (explicit, and implicit when a remote offer lands on a local one);
// - transceivers: addTrack makes one, a remote offer associates its m-lines with unassociated
//   addTrack transceivers of the same kind or makes receive-only ones, rollback undoes what the
//   rolled-back description did; negotiationneeded fires when something is not negotiated yet;
// - ICE credentials per description (a new ufrag on restartIce, and in the answer to a restart),
//   one trickled candidate then end-of-candidates per new ufrag, candidates checked against the
//   remote description's ufrag, and "connected" once descriptions and a matching candidate are in;
// - media: a receiving track whose `source` is whatever the remote sender sends now, so a test
//   can see replaceTrack take effect on the other side without any renegotiation.
import {
  IceCandidateInitLike,
  IceCandidateLike,
  IceConnectionStateName,
  PeerConnectionLike,
  PeerConnectionStateName,
  SessionDescriptionInitLike,
  SessionDescriptionLike,
  SignalingStateName
} from '../../src/media/peer';

type Kind = 'audio' | 'video';
type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
type Slot<E> = ((event: E) => void) | null;

export class FakeTrack {
  constructor(
    readonly kind: Kind,
    readonly label: string
  ) {}
}

/** A receiving track: its media is what the remote sender sends at the moment. */
export class FakeRemoteTrack extends FakeTrack {
  constructor(
    kind: Kind,
    label: string,
    private readonly _source: () => FakeTrack | null
  ) {
    super(kind, label);
  }

  get source(): FakeTrack | null {
    return this._source();
  }
}

export class FakeStream {
  constructor(readonly id: string) {}
}

export class FakeSender {
  constructor(
    public track: FakeTrack | null,
    readonly key: string
  ) {}

  replaceCalls = 0;

  async replaceTrack(track: FakeTrack | null): Promise<void> {
    if (track !== null && this.track !== null && track.kind !== this.track.kind) {
      throw new TypeError('replaceTrack with a track of another kind');
    }
    await Promise.resolve();
    this.track = track;
    this.replaceCalls++;
  }
}

interface ITransceiver {
  kind: Kind;
  mid: string | null;
  sender: FakeSender;
  direction: Direction;
  createdBy: 'addTrack' | 'remote';
  /** Direction as last negotiated; null before. */
  negotiatedDirection: Direction | null;
  receiver: FakeRemoteTrack | null;
  remoteSenderKey: string | null;
  /** Set by a pending description, undone by its rollback. */
  midFromPendingOffer: boolean;
  associatedByPendingRemote: boolean;
  createdByPendingRemote: boolean;
}

interface IMLine {
  mid: string;
  kind: Kind;
  direction: Direction;
  sender: string;
}

interface IFakeSdp {
  from: string;
  ufrag: string;
  mlines: IMLine[];
}

function sends(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'sendonly';
}

function receives(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'recvonly';
}

function answerDirection(local: Direction, offered: Direction): Direction {
  const send = sends(local) && receives(offered);
  const receive = receives(local) && sends(offered);
  return send && receive ? 'sendrecv' : send ? 'sendonly' : receive ? 'recvonly' : 'inactive';
}

/** SDP-shaped text: the ICE ufrag as a real `a=ice-ufrag` line, the rest as JSON. */
function format(sdp: IFakeSdp): string {
  return `v=0\r\na=ice-ufrag:${sdp.ufrag}\r\na=x-fake:${JSON.stringify(sdp)}\r\n`;
}

function parse(sdp: string | undefined): IFakeSdp {
  const json = /^a=x-fake:(.*)$/m.exec(sdp ?? '');
  if (json === null) {
    throw new DOMException('not a fake SDP', 'InvalidAccessError');
  }
  return JSON.parse(json[1].trim()) as IFakeSdp;
}

/** Shared by the fake peers of one test: senders are found by key to play the media path. */
export class FakeWorld {
  readonly senders = new Map<string, FakeSender>();
  readonly peers: FakePeerConnection[] = [];

  createPeer(name: string): FakePeerConnection {
    const pc = new FakePeerConnection(this, name);
    this.peers.push(pc);
    return pc;
  }

  next(prefix: string): string {
    return `${prefix}${++this._counter}`;
  }

  private _counter = 0;
}

export class FakePeerConnection implements PeerConnectionLike<FakeTrack, FakeStream> {
  constructor(
    private readonly _world: FakeWorld,
    readonly name: string
  ) {}

  signalingState: SignalingStateName = 'stable';
  iceConnectionState: IceConnectionStateName = 'new';
  connectionState: PeerConnectionStateName = 'new';

  onnegotiationneeded: Slot<unknown> = null;
  onicecandidate: Slot<{ readonly candidate: IceCandidateLike | null }> = null;
  ontrack: Slot<{ readonly track: FakeTrack; readonly streams: ReadonlyArray<FakeStream> }> = null;
  oniceconnectionstatechange: Slot<unknown> = null;
  onconnectionstatechange: Slot<unknown> = null;
  onsignalingstatechange: Slot<unknown> = null;

  /** What happened, in order: for assertions and for reading a failure. */
  readonly log: string[] = [];
  negotiationNeededFired = 0;
  rollbacks = 0;
  readonly transceivers: ITransceiver[] = [];
  /** Every track event, as the application saw it. */
  readonly received: FakeRemoteTrack[] = [];
  readonly addedCandidates: IceCandidateInitLike[] = [];

  get localDescription(): SessionDescriptionLike | null {
    return this._pendingLocal ?? this._currentLocal;
  }

  get remoteDescription(): SessionDescriptionLike | null {
    return this._pendingRemote ?? this._currentRemote;
  }

  get localUfrag(): string | null {
    return this._currentLocalUfrag;
  }

  get remoteUfrag(): string | null {
    return this._currentRemoteUfrag;
  }

  setLocalDescription(description?: SessionDescriptionInitLike): Promise<void> {
    return this._enqueue(() => this._setLocal(description?.type));
  }

  setRemoteDescription(description: SessionDescriptionInitLike): Promise<void> {
    return this._enqueue(() => this._setRemote(description));
  }

  addIceCandidate(candidate?: IceCandidateInitLike): Promise<void> {
    return this._enqueue(() => this._addCandidate(candidate));
  }

  addTrack(track: FakeTrack, ..._streams: FakeStream[]): FakeSender {
    this._assertOpen();
    const reusable = this.transceivers.find(
      t =>
        t.createdBy === 'remote' &&
        t.kind === track.kind &&
        t.sender.track === null &&
        !this._everSent.has(t.sender.key)
    );
    if (reusable !== undefined) {
      reusable.sender.track = track;
      reusable.direction = 'sendrecv';
      this._everSent.add(reusable.sender.key);
      this._dirty();
      return reusable.sender;
    }
    const sender = new FakeSender(track, this._world.next(`${this.name}-sender-`));
    this._world.senders.set(sender.key, sender);
    this._everSent.add(sender.key);
    this.transceivers.push({
      kind: track.kind,
      mid: null,
      sender,
      direction: 'sendrecv',
      createdBy: 'addTrack',
      negotiatedDirection: null,
      receiver: null,
      remoteSenderKey: null,
      midFromPendingOffer: false,
      associatedByPendingRemote: false,
      createdByPendingRemote: false
    });
    this.log.push(`addTrack ${track.kind}`);
    this._dirty();
    return sender;
  }

  restartIce(): void {
    this._assertOpen();
    this._iceRestartPending = true;
    this.log.push('restartIce');
    this._dirty();
  }

  close(): void {
    if (this._closed) {
      return;
    }
    this._closed = true;
    this.signalingState = 'closed';
    this.iceConnectionState = 'closed';
    this.connectionState = 'closed';
    this.log.push('close');
  }

  get closed(): boolean {
    return this._closed;
  }

  // ---- test controls: the network between the two ICE agents
  /** The current ICE session stops working (a cable pulled, a NAT binding gone). */
  breakIce(state: 'disconnected' | 'failed'): void {
    this._broken = { local: this._currentLocalUfrag, remote: this._currentRemoteUfrag };
    this._setIce(state);
  }

  /** The path of the current ICE session works again (a short blip). */
  healIce(): void {
    this._broken = null;
    this._evaluateIce();
  }

  // ---- the operations chain
  private _enqueue(operation: () => void): Promise<void> {
    if (this._closed) {
      return Promise.reject(new DOMException('closed', 'InvalidStateError'));
    }
    this._pendingOps++;
    const run = this._chain.then(async () => {
      // An operation takes a little while, letting other work interleave, as in a browser.
      await Promise.resolve();
      await Promise.resolve();
      if (this._closed) {
        throw new DOMException('closed', 'InvalidStateError');
      }
      operation();
    });
    this._chain = run
      .catch(() => undefined)
      .then(() => {
        this._pendingOps--;
        this._dirty();
      });
    return run;
  }

  private _setLocal(type: SessionDescriptionInitLike['type']): void {
    const kind =
      type ??
      (this.signalingState === 'have-remote-offer'
        ? 'answer'
        : this.signalingState === 'stable' || this.signalingState === 'have-local-offer'
          ? 'offer'
          : undefined);
    switch (kind) {
      case 'offer':
        return this._localOffer();
      case 'answer':
        return this._localAnswer();
      case 'rollback':
        return this._rollback('rollback');
      default:
        throw new DOMException(
          `setLocalDescription(${type ?? ''}) in ${this.signalingState}`,
          'InvalidStateError'
        );
    }
  }

  private _localOffer(): void {
    if (this.signalingState !== 'stable' && this.signalingState !== 'have-local-offer') {
      throw new DOMException(`offer in ${this.signalingState}`, 'InvalidStateError');
    }
    let ufrag = this._pendingOfferUfrag ?? this._currentLocalUfrag;
    if (ufrag === null || this._iceRestartPending) {
      ufrag = this._world.next(`${this.name}-ufrag-`);
      this._offerRestarts = this._offerRestarts || this._iceRestartPending;
      this._iceRestartPending = false;
    }
    this._pendingOfferUfrag = ufrag;
    for (const t of this.transceivers) {
      if (t.mid === null) {
        t.mid = this._world.next('mid');
        t.midFromPendingOffer = true;
      }
    }
    const sdp: IFakeSdp = {
      from: this.name,
      ufrag,
      mlines: this.transceivers.map(t => ({
        mid: t.mid ?? '',
        kind: t.kind,
        direction: t.direction,
        sender: t.sender.key
      }))
    };
    this._pendingLocal = { type: 'offer', sdp: format(sdp) };
    this.log.push(`SLD offer ${ufrag}`);
    this._setSignaling('have-local-offer');
    this._gather(ufrag);
  }

  private _localAnswer(): void {
    if (this.signalingState !== 'have-remote-offer' || this._pendingRemote === null) {
      throw new DOMException(`answer in ${this.signalingState}`, 'InvalidStateError');
    }
    const offer = parse(this._pendingRemote.sdp);
    let ufrag = this._currentLocalUfrag;
    if (ufrag === null || offer.ufrag !== this._currentRemoteUfrag || this._iceRestartPending) {
      // Answering an ICE restart (new remote credentials) takes new credentials too.
      ufrag = this._world.next(`${this.name}-ufrag-`);
      this._iceRestartPending = false;
    }
    const mlines: IMLine[] = offer.mlines.map(m => {
      const t = this._byMid(m.mid);
      if (t === undefined) {
        throw new Error(`no transceiver for mid ${m.mid}`);
      }
      return {
        mid: m.mid,
        kind: m.kind,
        direction: answerDirection(t.direction, m.direction),
        sender: t.sender.key
      };
    });
    const sdp: IFakeSdp = { from: this.name, ufrag, mlines };
    this._currentLocal = { type: 'answer', sdp: format(sdp) };
    this._currentRemote = this._pendingRemote;
    this._pendingRemote = null;
    this._currentLocalUfrag = ufrag;
    this._currentRemoteUfrag = offer.ufrag;
    for (const t of this.transceivers) {
      t.associatedByPendingRemote = false;
      t.createdByPendingRemote = false;
      if (t.mid !== null) {
        t.negotiatedDirection = t.direction;
      }
    }
    this.log.push(`SLD answer ${ufrag}`);
    this._setSignaling('stable');
    this._gather(ufrag);
    this._evaluateIce();
  }

  private _rollback(why: string): void {
    if (this.signalingState === 'have-local-offer') {
      for (const t of this.transceivers) {
        if (t.midFromPendingOffer) {
          t.mid = null;
          t.midFromPendingOffer = false;
        }
      }
      if (this._offerRestarts) {
        this._iceRestartPending = true;
      }
      this._offerRestarts = false;
      this._pendingOfferUfrag = null;
      this._pendingLocal = null;
    } else if (this.signalingState === 'have-remote-offer') {
      for (let i = this.transceivers.length - 1; i >= 0; i--) {
        const t = this.transceivers[i];
        if (t.createdByPendingRemote) {
          this.transceivers.splice(i, 1);
        } else if (t.associatedByPendingRemote) {
          t.mid = null;
          t.associatedByPendingRemote = false;
        }
      }
      this._pendingRemote = null;
    } else {
      throw new DOMException(`rollback in ${this.signalingState}`, 'InvalidStateError');
    }
    this.rollbacks++;
    this.log.push(why);
    this._setSignaling('stable');
  }

  private _setRemote(description: SessionDescriptionInitLike): void {
    if (description.type === 'offer') {
      if (this.signalingState === 'have-local-offer') {
        this._rollback('implicit rollback');
      }
      if (this.signalingState !== 'stable') {
        throw new DOMException(`remote offer in ${this.signalingState}`, 'InvalidStateError');
      }
      const offer = parse(description.sdp);
      const newTracks: ITransceiver[] = [];
      for (const m of offer.mlines) {
        let t = this._byMid(m.mid);
        if (t === undefined) {
          t = this.transceivers.find(
            c => c.createdBy === 'addTrack' && c.mid === null && c.kind === m.kind
          );
          if (t !== undefined) {
            t.mid = m.mid;
            t.associatedByPendingRemote = true;
          }
        }
        if (t === undefined) {
          const sender = new FakeSender(null, this._world.next(`${this.name}-sender-`));
          this._world.senders.set(sender.key, sender);
          t = {
            kind: m.kind,
            mid: m.mid,
            sender,
            direction: 'recvonly',
            createdBy: 'remote',
            negotiatedDirection: null,
            receiver: null,
            remoteSenderKey: null,
            midFromPendingOffer: false,
            associatedByPendingRemote: false,
            createdByPendingRemote: true
          };
          this.transceivers.push(t);
        }
        t.remoteSenderKey = m.sender;
        if (sends(m.direction) && t.receiver === null) {
          newTracks.push(t);
        }
      }
      this._pendingRemote = { type: 'offer', sdp: description.sdp ?? '' };
      this.log.push(`SRD offer ${offer.ufrag}`);
      this._setSignaling('have-remote-offer');
      this._fireTracks(newTracks, offer.from);
      return;
    }
    if (description.type === 'answer') {
      if (this.signalingState !== 'have-local-offer' || this._pendingLocal === null) {
        throw new DOMException(`remote answer in ${this.signalingState}`, 'InvalidStateError');
      }
      const answer = parse(description.sdp);
      const offer = parse(this._pendingLocal.sdp);
      const newTracks: ITransceiver[] = [];
      for (const m of answer.mlines) {
        const t = this._byMid(m.mid);
        if (t === undefined) {
          continue;
        }
        t.remoteSenderKey = m.sender;
        if (sends(m.direction) && t.receiver === null) {
          newTracks.push(t);
        }
      }
      this._currentLocal = this._pendingLocal;
      this._pendingLocal = null;
      this._currentRemote = { type: 'answer', sdp: description.sdp ?? '' };
      this._currentLocalUfrag = offer.ufrag;
      this._currentRemoteUfrag = answer.ufrag;
      this._pendingOfferUfrag = null;
      this._offerRestarts = false;
      for (const t of this.transceivers) {
        t.midFromPendingOffer = false;
        if (t.mid !== null) {
          t.negotiatedDirection = t.direction;
        }
      }
      this.log.push(`SRD answer ${answer.ufrag}`);
      this._setSignaling('stable');
      this._fireTracks(newTracks, answer.from);
      this._evaluateIce();
      return;
    }
    throw new DOMException(`setRemoteDescription(${description.type ?? ''})`, 'InvalidStateError');
  }

  private _addCandidate(candidate: IceCandidateInitLike | undefined): void {
    const remote = this.remoteDescription;
    if (remote === null) {
      throw new DOMException('no remote description', 'InvalidStateError');
    }
    if (
      candidate === undefined ||
      candidate.candidate === '' ||
      candidate.candidate === undefined
    ) {
      this.log.push('end-of-candidates');
      return;
    }
    // The ufrag must be that of an applied remote description, pending or current (webrtc-pc,
    // addIceCandidate): a late candidate of the generation before a restart still counts.
    const applied = [this._pendingRemote, this._currentRemote]
      .filter((d): d is SessionDescriptionLike => d !== null)
      .map(d => parse(d.sdp).ufrag);
    const ufrag = candidate.usernameFragment ?? parse(remote.sdp).ufrag;
    if (!applied.includes(ufrag)) {
      throw new DOMException(
        `candidate for ufrag ${ufrag}, remote descriptions have ${applied.join(', ')}`,
        'OperationError'
      );
    }
    this.addedCandidates.push(candidate);
    this._candidateUfrags.add(ufrag);
    this._evaluateIce();
  }

  // ---- ICE and media
  private _gather(ufrag: string): void {
    if (this._gathered.has(ufrag)) {
      return;
    }
    this._gathered.add(ufrag);
    const mid = this.transceivers.find(t => t.mid !== null)?.mid ?? '0';
    // Gathering reports in later tasks, after the description's promise has settled.
    setTimeout(() => {
      // A description rolled back before gathering reported: its generation is gone.
      const live = this._pendingOfferUfrag === ufrag || this._currentLocalUfrag === ufrag;
      if (this._closed || !live) {
        return;
      }
      this.onicecandidate?.({
        candidate: {
          candidate: `candidate:1 1 udp 2122260223 127.0.0.1 ${40000 + this._gathered.size} typ host`,
          sdpMid: mid,
          sdpMLineIndex: 0,
          usernameFragment: ufrag
        }
      });
      this.onicecandidate?.({ candidate: null });
    }, 0);
  }

  private _evaluateIce(): void {
    if (this._closed) {
      return;
    }
    const local = this._currentLocalUfrag;
    const remote = this._currentRemoteUfrag;
    if (local === null || remote === null) {
      return;
    }
    const broken =
      this._broken !== null && this._broken.local === local && this._broken.remote === remote;
    if (broken) {
      return; // stays disconnected or failed until a restart brings new credentials
    }
    this._broken = null;
    this._setIce(this._candidateUfrags.has(remote) ? 'connected' : 'checking');
  }

  private _fireTracks(transceivers: ITransceiver[], remoteName: string): void {
    for (const t of transceivers) {
      const receiver = new FakeRemoteTrack(t.kind, `${this.name}<-${remoteName}:${t.kind}`, () => {
        const key = t.remoteSenderKey;
        return key === null ? null : (this._world.senders.get(key)?.track ?? null);
      });
      t.receiver = receiver;
      this.received.push(receiver);
      this.ontrack?.({ track: receiver, streams: [new FakeStream(`stream-${remoteName}`)] });
    }
  }

  private _setIce(state: IceConnectionStateName): void {
    if (this.iceConnectionState === state) {
      return;
    }
    this.iceConnectionState = state;
    this.log.push(`ice ${state}`);
    this.oniceconnectionstatechange?.({});
    const connection: PeerConnectionStateName =
      state === 'checking' ? 'connecting' : state === 'completed' ? 'connected' : state;
    if (this.connectionState !== connection) {
      this.connectionState = connection;
      this.onconnectionstatechange?.({});
    }
  }

  private _setSignaling(state: SignalingStateName): void {
    if (this.signalingState !== state) {
      this.signalingState = state;
      this.onsignalingstatechange?.({});
    }
  }

  // ---- negotiationneeded
  private _needsNegotiation(): boolean {
    return (
      this._iceRestartPending ||
      this.transceivers.some(
        t =>
          (t.mid === null && t.createdBy === 'addTrack') ||
          (t.negotiatedDirection !== null && t.negotiatedDirection !== t.direction)
      )
    );
  }

  /**
   * Something changed: check in a queued task, as browsers do, whether to fire negotiationneeded
   * (not while operations are chained, not outside stable, not when all is negotiated).
   */
  private _dirty(): void {
    this._changed = true;
    setTimeout(() => {
      if (
        this._closed ||
        !this._changed ||
        this._pendingOps > 0 ||
        this.signalingState !== 'stable' ||
        !this._needsNegotiation()
      ) {
        return;
      }
      this._changed = false;
      this.negotiationNeededFired++;
      this.log.push('negotiationneeded');
      this.onnegotiationneeded?.({});
    }, 0);
  }

  private _byMid(mid: string): ITransceiver | undefined {
    return this.transceivers.find(t => t.mid === mid);
  }

  private _assertOpen(): void {
    if (this._closed) {
      throw new DOMException('closed', 'InvalidStateError');
    }
  }

  private _chain: Promise<void> = Promise.resolve();
  private _pendingOps = 0;
  private _changed = false;
  private _closed = false;
  private _pendingLocal: SessionDescriptionLike | null = null;
  private _currentLocal: SessionDescriptionLike | null = null;
  private _pendingRemote: SessionDescriptionLike | null = null;
  private _currentRemote: SessionDescriptionLike | null = null;
  private _currentLocalUfrag: string | null = null;
  private _currentRemoteUfrag: string | null = null;
  private _pendingOfferUfrag: string | null = null;
  private _iceRestartPending = false;
  private _offerRestarts = false;
  private readonly _gathered = new Set<string>();
  private readonly _candidateUfrags = new Set<string>();
  private _broken: { local: string | null; remote: string | null } | null = null;
  private readonly _everSent = new Set<string>();
}
