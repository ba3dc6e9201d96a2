import { ISignal, Signal } from '@lumino/signaling';

import { IMe, IRoomModel } from '../tokens';

/** The room model: plain state plus a signal; it never talks to the network. */
export class RoomModel implements IRoomModel {
  constructor(readonly roomId: string | null) {}

  get me(): IMe | null {
    return this._me;
  }

  get error(): Error | null {
    return this._error;
  }

  get changed(): ISignal<IRoomModel, void> {
    return this._changed;
  }

  setMe(me: IMe): void {
    this._me = me;
    this._error = null;
    this._changed.emit();
  }

  setError(error: Error): void {
    this._error = error;
    this._changed.emit();
  }

  private _me: IMe | null = null;
  private _error: Error | null = null;
  private readonly _changed = new Signal<IRoomModel, void>(this);
}
