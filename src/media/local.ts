/**
 * What this browser sends: the microphone and camera (chosen devices, on/off by `track.enabled`),
 * the screen while shared, and the microphone's level for the meter. Falls back to audio-only or
 * to receiving only when a device is missing or permission is refused, and says why.
 */

import { ISignal, Signal } from '@lumino/signaling';

export interface IDeviceInfo {
  readonly deviceId: string;
  readonly label: string;
}

/** Why something we wanted to send is missing. */
export type MediaProblem =
  | 'no-camera'
  | 'no-microphone'
  | 'camera-denied'
  | 'microphone-denied'
  | 'camera-busy'
  | 'microphone-busy'
  | 'unsupported'
  | null;

export interface ILocalMediaState {
  readonly audio: MediaStreamTrack | null;
  readonly camera: MediaStreamTrack | null;
  readonly screen: MediaStreamTrack | null;
  readonly mic: boolean;
  readonly cam: boolean;
  readonly cameraProblem: MediaProblem;
  readonly micProblem: MediaProblem;
}

function problemOf(error: unknown, kind: 'camera' | 'microphone'): MediaProblem {
  const name = error instanceof Error || (typeof error === 'object' && error !== null)
    ? String((error as { name?: unknown }).name)
    : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return kind === 'camera' ? 'camera-denied' : 'microphone-denied';
    case 'NotReadableError':
    case 'AbortError':
      return kind === 'camera' ? 'camera-busy' : 'microphone-busy';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return kind === 'camera' ? 'no-camera' : 'no-microphone';
    default:
      return kind === 'camera' ? 'no-camera' : 'no-microphone';
  }
}

function mediaDevices(): MediaDevices | null {
  return typeof navigator !== 'undefined' && navigator.mediaDevices !== undefined
    ? navigator.mediaDevices
    : null;
}

/** The local camera, microphone and screen of this page. */
export class LocalMedia {
  constructor() {
    this._stream = typeof MediaStream === 'undefined' ? null : new MediaStream();
    const devices = mediaDevices();
    if (devices !== null) {
      devices.addEventListener('devicechange', this._onDeviceChange);
    }
  }

  get state(): ILocalMediaState {
    return {
      audio: this._audio,
      camera: this._camera,
      screen: this._screen,
      mic: this._audio !== null && this._audio.enabled,
      cam: this._camera !== null && this._camera.enabled,
      cameraProblem: this._cameraProblem,
      micProblem: this._micProblem
    };
  }

  /** One stream holding what we send (the peer connections' `streams` argument). */
  get stream(): MediaStream | null {
    return this._stream;
  }

  /** The shared screen as a stream of its own (the local preview shows it), or null. */
  get screenStream(): MediaStream | null {
    return this._screenStream;
  }

  /** The video track sent now: the screen while shared, else the camera. */
  get videoTrack(): MediaStreamTrack | null {
    return this._screen ?? this._camera;
  }

  get cameras(): ReadonlyArray<IDeviceInfo> {
    return this._cameras;
  }

  get microphones(): ReadonlyArray<IDeviceInfo> {
    return this._microphones;
  }

  get cameraId(): string | null {
    return this._camera?.getSettings().deviceId ?? this._cameraId;
  }

  get microphoneId(): string | null {
    return this._audio?.getSettings().deviceId ?? this._micId;
  }

  /** Emitted when tracks, their on/off state, the devices or a problem change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted when the screen share ends, from our button or the browser's own "stop sharing". */
  get screenEnded(): ISignal<this, void> {
    return this._screenEnded;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Ask for the microphone and camera. Each is asked for on its own when asking for both fails, so
   * that a missing or refused camera still leaves the microphone (and the other way round).
   */
  async start(): Promise<void> {
    const devices = mediaDevices();
    if (devices === null || typeof devices.getUserMedia !== 'function') {
      this._cameraProblem = 'unsupported';
      this._micProblem = 'unsupported';
      this._changed.emit();
      return;
    }
    try {
      const stream = await devices.getUserMedia({
        audio: this._audioConstraints(),
        video: this._videoConstraints()
      });
      this._adopt(stream.getAudioTracks()[0] ?? null, stream.getVideoTracks()[0] ?? null);
      this._micProblem = null;
      this._cameraProblem = null;
    } catch {
      await Promise.all([this._acquire('microphone'), this._acquire('camera')]);
    }
    await this.refreshDevices();
    this._changed.emit();
  }

  /** Labels are readable only once a permission was granted: read the lists again then. */
  async refreshDevices(): Promise<void> {
    const devices = mediaDevices();
    if (devices === null || typeof devices.enumerateDevices !== 'function') {
      return;
    }
    try {
      const all = await devices.enumerateDevices();
      const pick = (kind: MediaDeviceKind, fallback: string): IDeviceInfo[] =>
        all
          .filter(d => d.kind === kind && d.deviceId !== '')
          .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${fallback} ${i + 1}` }));
      this._cameras = pick('videoinput', 'Camera');
      this._microphones = pick('audioinput', 'Microphone');
      this._changed.emit();
    } catch (error) {
      console.warn('jupyter-interview: cannot list media devices', error);
    }
  }

  /** Use another camera; its track replaces the old one (the call swaps it without renegotiating). */
  async selectCamera(deviceId: string): Promise<void> {
    this._cameraId = deviceId;
    await this._acquire('camera');
    this._changed.emit();
  }

  async selectMicrophone(deviceId: string): Promise<void> {
    this._micId = deviceId;
    await this._acquire('microphone');
    this._changed.emit();
  }

  setMic(on: boolean): void {
    if (this._audio !== null) {
      this._audio.enabled = on;
    }
    this._micOn = on;
    this._changed.emit();
  }

  setCam(on: boolean): void {
    if (this._camera !== null) {
      this._camera.enabled = on;
    }
    this._camOn = on;
    this._changed.emit();
  }

  /** Share a screen or window; resolves false when the user cancelled or it is not possible. */
  async startScreen(): Promise<boolean> {
    const devices = mediaDevices();
    if (devices === null || typeof devices.getDisplayMedia !== 'function') {
      return false;
    }
    let stream: MediaStream;
    try {
      stream = await devices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      console.info('jupyter-interview: screen sharing not started', error);
      return false;
    }
    const track = stream.getVideoTracks()[0];
    if (track === undefined || this._disposed) {
      stream.getTracks().forEach(t => t.stop());
      return false;
    }
    this.stopScreen(false);
    this._screen = track;
    this._screenStream = stream;
    // The browser's own "Stop sharing" button ends the track without telling us otherwise.
    track.addEventListener('ended', this._onScreenEnded);
    this._changed.emit();
    return true;
  }

  /** Stop sharing the screen (the camera goes back on the call). */
  stopScreen(announce = true): void {
    const screen = this._screen;
    if (screen === null) {
      return;
    }
    this._screen = null;
    this._screenStream = null;
    screen.removeEventListener('ended', this._onScreenEnded);
    screen.stop();
    if (announce) {
      this._screenEnded.emit();
      this._changed.emit();
    }
  }

  /**
   * The microphone's level now, 0..1 (RMS of the last ~20 ms, scaled so that speech reaches the
   * upper half). 0 without a microphone or while muted.
   */
  level(): number {
    if (this._audio === null || !this._audio.enabled || this._audio.readyState === 'ended') {
      return 0;
    }
    const analyser = this._analyser();
    if (analyser === null) {
      return 0;
    }
    const data = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const v of data) {
      sum += v * v;
    }
    const rms = Math.sqrt(sum / data.length);
    return Math.min(1, rms * 4);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    mediaDevices()?.removeEventListener('devicechange', this._onDeviceChange);
    this.stopScreen(false);
    for (const track of [this._audio, this._camera]) {
      track?.stop();
    }
    this._audio = this._camera = null;
    void this._audioContext?.close();
    this._audioContext = null;
    Signal.clearData(this);
  }

  private _audioConstraints(): MediaTrackConstraints | boolean {
    return this._micId === null
      ? { echoCancellation: true, noiseSuppression: true }
      : { deviceId: { exact: this._micId }, echoCancellation: true, noiseSuppression: true };
  }

  private _videoConstraints(): MediaTrackConstraints {
    const size = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } };
    return this._cameraId === null ? size : { ...size, deviceId: { exact: this._cameraId } };
  }

  private async _acquire(kind: 'camera' | 'microphone'): Promise<void> {
    const devices = mediaDevices();
    if (devices === null) {
      return;
    }
    try {
      const stream = await devices.getUserMedia(
        kind === 'camera'
          ? { video: this._videoConstraints() }
          : { audio: this._audioConstraints() }
      );
      if (kind === 'camera') {
        this._adopt(this._audio, stream.getVideoTracks()[0] ?? null);
        this._cameraProblem = null;
      } else {
        this._adopt(stream.getAudioTracks()[0] ?? null, this._camera);
        this._micProblem = null;
      }
    } catch (error) {
      if (kind === 'camera') {
        this._cameraProblem = problemOf(error, 'camera');
      } else {
        this._micProblem = problemOf(error, 'microphone');
      }
    }
  }

  /** Take these tracks as ours; tracks they replace are stopped. */
  private _adopt(audio: MediaStreamTrack | null, camera: MediaStreamTrack | null): void {
    if (this._disposed) {
      audio?.stop();
      camera?.stop();
      return;
    }
    if (this._audio !== null && this._audio !== audio) {
      this._stream?.removeTrack(this._audio);
      this._audio.stop();
      this._source?.disconnect();
      this._source = null;
      this._analyserNode = null;
    }
    if (this._camera !== null && this._camera !== camera) {
      this._stream?.removeTrack(this._camera);
      this._camera.stop();
    }
    this._audio = audio;
    this._camera = camera;
    if (audio !== null) {
      audio.enabled = this._micOn;
      if (this._stream !== null && !this._stream.getTracks().includes(audio)) {
        this._stream.addTrack(audio);
      }
    }
    if (camera !== null) {
      camera.enabled = this._camOn;
      if (this._stream !== null && !this._stream.getTracks().includes(camera)) {
        this._stream.addTrack(camera);
      }
    }
  }

  private _analyser(): AnalyserNode | null {
    if (this._analyserNode !== null) {
      return this._analyserNode;
    }
    if (this._audio === null || typeof AudioContext === 'undefined') {
      return null;
    }
    try {
      if (this._audioContext === null) {
        this._audioContext = new AudioContext();
        // Made before any click on the page, the context stays suspended under the browsers'
        // autoplay rules: the first click or key press lets it run (and the meter move).
        const wake = (): void => {
          if (this._audioContext?.state === 'suspended') {
            void this._audioContext.resume();
          }
        };
        document.addEventListener('pointerdown', wake, { once: true, capture: true });
        document.addEventListener('keydown', wake, { once: true, capture: true });
      }
      if (this._audioContext.state === 'suspended') {
        void this._audioContext.resume();
      }
      this._source = this._audioContext.createMediaStreamSource(new MediaStream([this._audio]));
      const analyser = this._audioContext.createAnalyser();
      analyser.fftSize = 1024;
      this._source.connect(analyser);
      this._analyserNode = analyser;
      return analyser;
    } catch (error) {
      console.warn('jupyter-interview: no microphone level meter', error);
      return null;
    }
  }

  private readonly _onDeviceChange = (): void => {
    void this.refreshDevices();
  };

  private readonly _onScreenEnded = (): void => {
    this.stopScreen(true);
  };

  private readonly _stream: MediaStream | null;
  private _audio: MediaStreamTrack | null = null;
  private _camera: MediaStreamTrack | null = null;
  private _screen: MediaStreamTrack | null = null;
  private _screenStream: MediaStream | null = null;
  private _micOn = true;
  private _camOn = true;
  private _cameraId: string | null = null;
  private _micId: string | null = null;
  private _cameraProblem: MediaProblem = null;
  private _micProblem: MediaProblem = null;
  private _cameras: IDeviceInfo[] = [];
  private _microphones: IDeviceInfo[] = [];
  private _audioContext: AudioContext | null = null;
  private _source: MediaStreamAudioSourceNode | null = null;
  private _analyserNode: AnalyserNode | null = null;
  private _disposed = false;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _screenEnded = new Signal<this, void>(this);
}
