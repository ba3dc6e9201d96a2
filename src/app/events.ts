/**
 * The server's event bus, closed to participants. JupyterLab's event manager subscribes to every
 * server event (`api/events/subscribe`: other rooms' file and kernel events among them), which the
 * server refuses a participant, and it retries for as long as the page is open. This one, under the
 * same plugin id, never subscribes; the room's own events come through the room socket.
 */

import type { JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { Event } from '@jupyterlab/services';
import { IEventManager, IServerSettings, ServerConnection } from '@jupyterlab/services';
import { Signal, Stream } from '@lumino/signaling';

export class NoServerEvents implements Event.IManager {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get stream(): Event.Stream {
    return this._stream;
  }

  /** Refused, as the server would: a participant does not write to the server's event bus. */
  emit(event: Event.Request): Promise<void> {
    return Promise.reject(new Error(`a participant's page does not emit server events (${event.schema_id})`));
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      this._stream.stop();
      Signal.clearData(this);
    }
  }

  private _isDisposed = false;
  private _stream = new Stream<Event.IManager, Event.Emission>(this);
}

export const noServerEventsPlugin: JupyterFrontEndPlugin<Event.IManager> = {
  id: '@jupyterlab/services-extension:event-manager',
  description: "An event manager that does not subscribe to the server's events (participants may not).",
  autoStart: true,
  provides: IEventManager,
  optional: [IServerSettings],
  activate: (_, serverSettings: ServerConnection.ISettings | null) =>
    new NoServerEvents(serverSettings ?? ServerConnection.makeSettings())
};
