/**
 * The lobby's view: the device check (camera preview, microphone level, device choice, mic and
 * camera toggles, what the interview records, Join), in plain DOM so that it can show from the
 * page's first script, before React, Lumino and the lab's theme exist. The lab's session adopts it
 * (`takeLobby`) and shows or hides it with the session's screen.
 */

import { PageConfig } from '@jupyterlab/coreutils';

import { parseIceServers } from '../media/ice';
import type { IServerLocation } from '../signaling/client';
import { LobbyModel } from '../state/lobby';
import { accessOfLevel } from '../state/phase';
import type { RoomModel } from '../state/room';
import { InterviewSession } from '../state/session';
import type { ILobbyHandOff } from '../tokens';
import { SVG } from './svg';
import { ITrans, mediaProblemText, sourceTrans } from './texts';

/** Where the early script leaves the lobby for the lab (a global: two bundles share it). */
const LOBBY_KEY = Symbol.for('jupyter-interview.lobby');

/** Bumped when what the lab expects of a published lobby changes (an old early script is ignored). */
const LOBBY_API = 2;

/** The microphone meter's refresh period, ms. */
const METER_EVERY_MS = 100;

type Attrs = Record<string, string | boolean | undefined>;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) {
      node.setAttribute(name, '');
    } else if (typeof value === 'string') {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

function icon(svg: string): HTMLElement {
  const span = el('span', { 'aria-hidden': 'true' });
  span.innerHTML = svg; // our own constant markup (svg.ts), never user input
  return span;
}

export class LobbyView {
  constructor(model: LobbyModel, trans: ITrans = sourceTrans) {
    this.model = model;
    this._trans = trans;
    this.node = this._build();
    model.changed.connect(this.update, this);
    model.media.changed.connect(this.update, this);
    this.update();
  }

  readonly model: LobbyModel;
  readonly node: HTMLElement;

  get isVisible(): boolean {
    return this.node.isConnected;
  }

  /** Put the lobby over the page and turn the camera and microphone on. */
  show(): void {
    if (this._disposed) {
      return;
    }
    if (!this.node.isConnected) {
      document.body.appendChild(this.node);
    }
    if (this._meter === 0) {
      this._meter = window.setInterval(this._updateMeter, METER_EVERY_MS);
    }
    void this.model.startMedia();
  }

  /** Take the lobby off the page (the local media stays: the call sends it; the panel plays the others). */
  hide(): void {
    for (const tile of this._tiles.values()) {
      tile.video.srcObject = null;
    }
    this.node.remove();
    window.clearInterval(this._meter);
    this._meter = 0;
  }

  /** Use the lab's translation bundle from now on. */
  setTrans(trans: ITrans): void {
    this._trans = trans;
    this._texts();
    this.update();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.hide();
    this.model.changed.disconnect(this.update, this);
    this.model.media.changed.disconnect(this.update, this);
  }

  /** Bring the view in line with the model and the media. */
  update(): void {
    const { model } = this;
    const media = model.media;
    const state = media.state;
    const trans = this._trans;
    const r = this._refs;
    const title = model.title ?? trans.__('Interview');
    r.title.textContent = model.joined ? title : trans.__('Before you join: %1', title);

    if (r.preview.srcObject !== media.stream) {
      r.preview.srcObject = media.stream;
      r.preview.play().catch(() => {
        // Muted previews autoplay; a refusal only delays the picture to the first click.
      });
    }
    const camShown = state.cam && state.camera !== null;
    r.preview.classList.toggle('jp-mod-hidden', !camShown);
    r.avatar.hidden = camShown;

    this._options(r.camera, media.cameras, media.cameraId, trans.__('No camera'));
    this._options(r.microphone, media.microphones, media.microphoneId, trans.__('No microphone'));

    this._toggle(
      r.mic,
      state.mic,
      state.audio === null,
      state.mic ? trans.__('Join muted') : trans.__('Join with the microphone on'),
      state.mic ? SVG.mic : SVG.micOff
    );
    this._toggle(
      r.cam,
      state.cam,
      state.camera === null,
      state.cam ? trans.__('Join with the camera off') : trans.__('Join with the camera on'),
      state.cam ? SVG.cam : SVG.camOff
    );

    const problem = mediaProblemText(trans, state.cameraProblem, state.micProblem);
    r.problem.hidden = problem === null;
    r.problem.textContent = problem ?? '';

    r.ack.checked = model.acknowledged;
    r.ack.required = model.needsAcknowledgement;
    r.ack.disabled = model.joined;
    r.join.disabled = !model.canJoin;
    r.join.textContent = model.joined ? trans.__('Joining…') : trans.__('Join the interview');
    r.join.title = model.joined || model.canJoin ? '' : trans.__('Tick the box above first');
    r.joining.hidden = !model.joined;
    // Once joined, what was to decide is decided: the call shows while the lab finishes loading.
    r.recording.hidden = model.joined;
    r.ackRow.hidden = model.joined;
    r.join.hidden = model.joined;
    this._updateCall();
  }

  /** The others' videos, once joined and until the interview panel takes the call over. */
  private _updateCall(): void {
    const peers = this.model.joined ? this.model.peers : [];
    const call = this._refs.call;
    const keep = new Set(peers.map(p => p.id));
    for (const [id, tile] of this._tiles) {
      if (!keep.has(id)) {
        tile.node.remove();
        this._tiles.delete(id);
      }
    }
    for (const peer of peers) {
      let tile = this._tiles.get(peer.id);
      if (tile === undefined) {
        const video = el('video', {
          class: 'jp-Interview-video',
          'data-testid': 'ji-video-remote',
          'data-participant': peer.id,
          autoplay: true,
          playsinline: true
        });
        const caption = el('span', { class: 'jp-Interview-tileName' });
        const node = el(
          'div',
          { class: 'jp-Interview-tile', 'data-participant': peer.id },
          video,
          el('div', { class: 'jp-Interview-tileCaption' }, caption)
        );
        tile = { node, video, caption };
        this._tiles.set(peer.id, tile);
        call.appendChild(node);
      }
      tile.caption.textContent = peer.name;
      tile.video.setAttribute('aria-label', peer.name);
      if (tile.video.srcObject !== peer.stream) {
        tile.video.srcObject = peer.stream;
        tile.video.play().catch(() => {
          // With sound, autoplay may wait for a gesture: Join was one.
        });
      }
    }
    call.hidden = peers.length === 0;
  }

  private _build(): HTMLElement {
    const preview = el('video', {
      class: 'jp-Interview-video jp-mod-mirrored',
      'data-testid': 'ji-device-preview',
      autoplay: true,
      playsinline: true
    });
    preview.muted = true;
    const camera = el('select', { class: 'jp-mod-styled', 'data-testid': 'ji-camera-select' });
    const microphone = el('select', { class: 'jp-mod-styled', 'data-testid': 'ji-mic-select' });
    const meterFill = el('div', { class: 'jp-Interview-meterFill' });
    const meter = el(
      'div',
      {
        class: 'jp-Interview-meter',
        'data-testid': 'ji-mic-level',
        'data-level': '0',
        role: 'meter',
        'aria-valuemin': '0',
        'aria-valuemax': '1',
        'aria-valuenow': '0'
      },
      meterFill
    );
    const mic = el('button', { type: 'button', class: 'jp-Interview-toggle', 'data-testid': 'ji-precheck-mic' });
    const cam = el('button', { type: 'button', class: 'jp-Interview-toggle', 'data-testid': 'ji-precheck-cam' });
    const problem = el('p', {
      class: 'jp-Interview-notice jp-mod-warning',
      role: 'status',
      'data-testid': 'ji-media-problem'
    });
    const ack = el('input', { type: 'checkbox', 'data-testid': 'ji-recording-ack' });
    const join = el('button', {
      type: 'button',
      class: 'jp-Interview-button jp-mod-accept jp-Interview-join',
      'data-testid': 'ji-join'
    });
    const joining = el('p', { class: 'jp-Interview-hint', role: 'status', 'data-testid': 'ji-lobby-joining' });
    const avatar = el('div', { class: 'jp-Interview-avatar' });
    const call = el('div', { class: 'jp-Interview-grid jp-Interview-lobbyCall', 'data-testid': 'ji-lobby-call' });
    const recording = el('section', {
      class: 'jp-Interview-recording',
      'data-testid': 'ji-recording-notice',
      'aria-labelledby': 'jp-Interview-recording-title'
    });
    const ackRow = el('label', { class: 'jp-Interview-check jp-Interview-ack' });
    const title = el('h2', { id: 'jp-Interview-screen-title' });
    const cameraLabel = el('span');
    const micLabel = el('span');
    const ackLabel = el('span');
    const recordingTitle = el('h3', { id: 'jp-Interview-recording-title' });
    const recordingItems = [el('li'), el('li'), el('li'), el('li')];
    const recordingReview = el('p');

    camera.addEventListener('change', () => void this.model.media.selectCamera(camera.value));
    microphone.addEventListener('change', () => void this.model.media.selectMicrophone(microphone.value));
    mic.addEventListener('click', () => this.model.media.setMic(!this.model.media.state.mic));
    cam.addEventListener('click', () => this.model.media.setCam(!this.model.media.state.cam));
    ack.addEventListener('change', () => this.model.setAcknowledged(ack.checked));
    join.addEventListener('click', () => this.model.join());

    const card = el(
      'div',
      { class: 'jp-Interview-card jp-Interview-deviceCheck', 'data-testid': 'ji-device-check' },
      title,
      call,
      el(
        'div',
        { class: 'jp-Interview-deviceRow' },
        el('div', { class: 'jp-Interview-preview' }, preview, avatar),
        el(
          'div',
          { class: 'jp-Interview-devices' },
          el('label', { class: 'jp-Interview-field' }, cameraLabel, camera),
          el('label', { class: 'jp-Interview-field' }, micLabel, microphone),
          meter,
          el('div', { class: 'jp-Interview-controlRow' }, mic, cam)
        )
      ),
      problem,
      recording,
      ackRow,
      join,
      joining
    );
    recording.append(recordingTitle, el('ul', {}, ...recordingItems), recordingReview);
    ackRow.append(ack, ackLabel);
    this._refs = {
      title,
      call,
      recording,
      ackRow,
      preview,
      avatar,
      camera,
      microphone,
      cameraLabel,
      micLabel,
      meter,
      meterFill,
      mic,
      cam,
      problem,
      recordingTitle,
      recordingItems,
      recordingReview,
      ack,
      ackLabel,
      join,
      joining
    };
    this._texts();
    return el(
      'div',
      {
        class: 'jp-Interview-overlay jp-Interview-lobby',
        role: 'dialog',
        'aria-modal': 'true',
        'aria-labelledby': 'jp-Interview-screen-title'
      },
      card
    );
  }

  /** The texts that do not depend on the state. */
  private _texts(): void {
    const trans = this._trans;
    const r = this._refs;
    r.preview.setAttribute('aria-label', trans.__('Your camera'));
    r.avatar.textContent = trans.__('Camera off');
    r.cameraLabel.textContent = trans.__('Camera');
    r.micLabel.textContent = trans.__('Microphone');
    r.meter.setAttribute('aria-label', trans.__('Microphone level'));
    r.recordingTitle.textContent = trans.__('What this interview records');
    const items = [
      trans.__('the code in the shared notebook and its full history of changes;'),
      trans.__('every code execution and its output;'),
      trans.__('the chat;'),
      trans.__('a replay of the session built from the above.')
    ];
    r.recordingItems.forEach((li, i) => (li.textContent = items[i]));
    r.recordingReview.textContent = trans.__('The interviewers can review these records after the interview.');
    r.ackLabel.textContent = trans.__('I understand what this interview records.');
    r.joining.textContent = trans.__('Opening the interview…');
  }

  private _options(
    select: HTMLSelectElement,
    devices: ReadonlyArray<{ deviceId: string; label: string }>,
    current: string | null,
    none: string
  ): void {
    const wanted = devices.length === 0 ? [{ deviceId: '', label: none }] : devices;
    const same =
      select.options.length === wanted.length &&
      wanted.every((d, i) => select.options[i].value === d.deviceId && select.options[i].text === d.label);
    if (!same) {
      select.replaceChildren(...wanted.map(d => el('option', { value: d.deviceId }, d.label)));
    }
    select.value = current ?? '';
    select.disabled = devices.length === 0;
  }

  private _toggle(button: HTMLButtonElement, pressed: boolean, disabled: boolean, label: string, svg: string): void {
    button.classList.toggle('jp-mod-pressed', pressed);
    button.classList.toggle('jp-mod-danger', !pressed);
    button.setAttribute('aria-pressed', String(pressed));
    button.setAttribute('aria-label', label);
    button.title = label;
    button.disabled = disabled;
    if (button.dataset.icon !== svg) {
      button.dataset.icon = svg;
      button.replaceChildren(icon(svg));
    }
  }

  private readonly _updateMeter = (): void => {
    const level = Math.round(this.model.media.level() * 100) / 100;
    this._refs.meter.dataset.level = String(level);
    this._refs.meter.setAttribute('aria-valuenow', String(level));
    this._refs.meterFill.style.width = `${Math.round(level * 100)}%`;
  };

  private _trans: ITrans;
  private _refs!: {
    title: HTMLElement;
    call: HTMLElement;
    recording: HTMLElement;
    ackRow: HTMLElement;
    preview: HTMLVideoElement;
    avatar: HTMLElement;
    camera: HTMLSelectElement;
    microphone: HTMLSelectElement;
    cameraLabel: HTMLElement;
    micLabel: HTMLElement;
    meter: HTMLElement;
    meterFill: HTMLElement;
    mic: HTMLButtonElement;
    cam: HTMLButtonElement;
    problem: HTMLElement;
    recordingTitle: HTMLElement;
    recordingItems: HTMLElement[];
    recordingReview: HTMLElement;
    ack: HTMLInputElement;
    ackLabel: HTMLElement;
    join: HTMLButtonElement;
    joining: HTMLElement;
  };
  private readonly _tiles = new Map<string, { node: HTMLElement; video: HTMLVideoElement; caption: HTMLElement }>();
  private _meter = 0;
  private _disposed = false;
}

/**
 * What the page's first script leaves for the lab: the lobby, and the room and session it already
 * runs (a Join pressed in the lobby opens the room socket and the call before the lab has loaded).
 */
export interface IEarlyRoom {
  readonly api: number;
  readonly view: LobbyView;
  readonly room: RoomModel;
  readonly session: InterviewSession;
  readonly handOff: ILobbyHandOff;
}

/**
 * The lobby and the session of a room page, from its page config (title, access, ICE servers), kept
 * in step by `driveLobby`: what the early script makes, and the lab when no early script ran.
 */
export function startRoom(room: RoomModel, roomId: string, server: IServerLocation): Omit<IEarlyRoom, 'api'> {
  const view = new LobbyView(
    new LobbyModel({ role: room.me?.role ?? null, title: PageConfig.getOption('interviewTitle') || null })
  );
  const session = new InterviewSession({
    room,
    roomId,
    server,
    access: accessOfLevel(PageConfig.getOption('interviewAccess')),
    media: view.model.media,
    ice: parseIceServers(PageConfig.getOption('interviewIce'))
  });
  return { view, room, session, handOff: driveLobby(view, session) };
}

/** Leave the room where the lab's plugins will look for it. */
export function publishEarlyRoom(early: Omit<IEarlyRoom, 'api'>): void {
  (window as unknown as Record<symbol, unknown>)[LOBBY_KEY] = { ...early, api: LOBBY_API };
}

/** The room the page's early script published for `roomId`, or null (none, another room, another build). */
export function findEarlyRoom(roomId: string | null): IEarlyRoom | null {
  const found = (window as unknown as Record<symbol, unknown>)[LOBBY_KEY] as Partial<IEarlyRoom> | undefined;
  if (found === undefined || found === null) {
    return null;
  }
  if (found.api !== LOBBY_API || found.room?.roomId !== roomId) {
    // From another build (a cached page) or not this page's room: take it off the page.
    found.view?.hide?.();
    return null;
  }
  return found as IEarlyRoom;
}

/**
 * Keep the lobby in step with the session: shown on the device check, its Join the session's. A Join
 * pressed before the lab has restored its layout waits for it (`labReady`): on a slow machine the
 * call's start (socket, negotiation, video) would otherwise compete with the notebook's. Joined, the
 * lobby stays until the lab shows its own screens (waiting room, end...) and, in the room, shows the
 * call (the others' videos) until the interview panel does.
 */
export function driveLobby(lobby: LobbyView, session: InterviewSession): ILobbyHandOff {
  const model = lobby.model;
  let screens = false;
  let panel = false;
  let lab = false;
  const join = (): void => {
    if (lab && model.joined) {
      session.join();
    }
  };
  model.joinRequested.connect(join);
  const sync = (): void => {
    model.setRole(session.room.myRole ?? model.role);
    model.setTitle(session.record?.title ?? model.title);
    model.setPeers(
      [...session.streams].map(([id, stream]) => ({
        id,
        stream,
        name: session.room.participants.get(id)?.name ?? ''
      }))
    );
    const screen = session.screen;
    if (screen === 'device-check') {
      session.prepare();
      lobby.show();
    } else if (panel || (screens && screen !== 'joining' && screen !== 'room')) {
      lobby.hide();
    }
  };
  session.screenChanged.connect(sync);
  session.recordChanged.connect(sync);
  session.streamsChanged.connect(sync);
  session.room.changed.connect(sync);
  session.room.participantsChanged.connect(sync);
  sync();
  return {
    labReady: () => {
      lab = true;
      join();
    },
    screensShown: () => {
      screens = true;
      sync();
    },
    panelShown: () => {
      panel = true;
      sync();
    }
  };
}
