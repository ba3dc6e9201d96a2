/**
 * An interviewer's private notes: loaded from and autosaved to `rooms/{id}/notes` with `If-Match`,
 * a quiet second after the last keystroke, with a saved / saving / conflict / error status. On a
 * conflict (another tab saved in between) nothing is overwritten until the user chooses.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';
import type { INotes, INotesAPI } from './api';

export type NotesStatus = 'loading' | 'saved' | 'saving' | 'conflict' | 'error';

export interface INotesModelOptions {
  api: INotesAPI;
  roomId: string;
  scheduler?: Scheduler;
  /** Save this long after the last change, ms. */
  debounceMs?: number;
  /** After a failed save (network, 5xx), try again this long later, ms. */
  retryMs?: number;
}

/** `code` of an `APIError`-like rejection, if any. */
function errorCode(reason: unknown): string | null {
  if (typeof reason === 'object' && reason !== null && 'code' in reason) {
    const code = (reason as { code: unknown }).code;
    return typeof code === 'string' ? code : null;
  }
  return null;
}

function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

export class NotesModel {
  constructor(options: INotesModelOptions) {
    this._api = options.api;
    this._roomId = options.roomId;
    this._scheduler = options.scheduler ?? realScheduler;
    this._debounceMs = options.debounceMs ?? 1000;
    this._retryMs = options.retryMs ?? 5000;
  }

  get text(): string {
    return this._text;
  }

  get status(): NotesStatus {
    return this._status;
  }

  /** The server's text when a save met a newer version (status `conflict`). */
  get theirs(): string | null {
    return this._theirs;
  }

  /** Why the last save failed (status `error`). */
  get error(): string | null {
    return this._error;
  }

  /** Server time (s) of the version we hold. */
  get updatedAt(): number | null {
    return this._updatedAt;
  }

  get etag(): string | null {
    return this._etag;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Load the notes; edits made before it answers are kept and saved over what it loads. */
  async load(): Promise<void> {
    this._set('loading');
    try {
      const notes = await this._api.getNotes(this._roomId);
      if (this._disposed) {
        return;
      }
      this._etag = notes.etag;
      this._updatedAt = notes.updated_at;
      if (this._dirty) {
        this._schedule(0);
      } else {
        this._text = notes.text;
        this._set('saved');
      }
    } catch (reason) {
      this._error = errorMessage(reason);
      this._set('error');
    }
  }

  /** The user typed. */
  setText(text: string): void {
    if (text === this._text) {
      return;
    }
    this._text = text;
    this._dirty = true;
    if (this._status === 'conflict') {
      this._changed.emit();
      return; // the user resolves the conflict first
    }
    if (this._etag !== null) {
      this._schedule(this._debounceMs);
    }
    this._set('saving');
  }

  /** Save now (the page is being hidden or closed). */
  flush(): Promise<void> {
    if (!this._dirty || this._status === 'conflict' || this._etag === null) {
      return this._saving ?? Promise.resolve();
    }
    this._cancel?.();
    this._cancel = null;
    return this._save();
  }

  /** Conflict: keep what I wrote, over the newer version. */
  keepMine(): void {
    if (this._status !== 'conflict') {
      return;
    }
    this._theirs = null;
    this._dirty = true;
    this._set('saving');
    void this._save();
  }

  /** Conflict: drop what I wrote and take the newer version. */
  takeTheirs(): void {
    if (this._status !== 'conflict' || this._theirs === null) {
      return;
    }
    this._text = this._theirs;
    this._theirs = null;
    this._dirty = false;
    this._set('saved');
  }

  dispose(): void {
    this._disposed = true;
    this._cancel?.();
    this._cancel = null;
    Signal.clearData(this);
  }

  private _schedule(ms: number): void {
    this._cancel?.();
    this._cancel = this._scheduler.after(ms, () => {
      this._cancel = null;
      void this._save();
    });
  }

  private async _save(): Promise<void> {
    if (this._saving !== null) {
      // One PUT at a time: the next one needs the etag this one brings back.
      this._again = true;
      return this._saving;
    }
    const text = this._text;
    const etag = this._etag;
    if (etag === null) {
      return;
    }
    this._dirty = false;
    this._set('saving');
    const done = (async () => {
      try {
        const saved: INotes = await this._api.putNotes(this._roomId, text, etag);
        if (this._disposed) {
          return;
        }
        this._etag = saved.etag;
        this._updatedAt = saved.updated_at;
        this._error = null;
        if (this._dirty || this._text !== text) {
          this._dirty = true;
          this._schedule(this._debounceMs);
          this._set('saving');
        } else {
          this._set('saved');
        }
      } catch (reason) {
        if (this._disposed) {
          return;
        }
        this._dirty = true;
        const code = errorCode(reason);
        if (code === 'stale_etag' || code === 'etag_required') {
          await this._conflict();
        } else {
          this._error = errorMessage(reason);
          this._set('error');
          this._schedule(this._retryMs);
        }
      }
    })();
    this._saving = done;
    try {
      await done;
    } finally {
      this._saving = null;
    }
    if (this._again && !this._disposed && this._status !== 'conflict') {
      this._again = false;
      if (this._dirty) {
        this._schedule(0);
      }
    }
  }

  /** Someone saved a newer version: fetch it so the user can compare and choose. */
  private async _conflict(): Promise<void> {
    try {
      const notes = await this._api.getNotes(this._roomId);
      this._theirs = notes.text;
      this._etag = notes.etag;
      this._updatedAt = notes.updated_at;
      if (notes.text === this._text) {
        // The same text, saved from elsewhere: nothing to choose.
        this._theirs = null;
        this._dirty = false;
        this._set('saved');
        return;
      }
    } catch (reason) {
      this._theirs = null;
      this._error = errorMessage(reason);
    }
    this._set('conflict');
  }

  private _set(status: NotesStatus): void {
    this._status = status;
    this._changed.emit();
  }

  private readonly _api: INotesAPI;
  private readonly _roomId: string;
  private readonly _scheduler: Scheduler;
  private readonly _debounceMs: number;
  private readonly _retryMs: number;
  private _text = '';
  private _status: NotesStatus = 'loading';
  private _etag: string | null = null;
  private _updatedAt: number | null = null;
  private _theirs: string | null = null;
  private _error: string | null = null;
  private _dirty = false;
  private _again = false;
  private _saving: Promise<void> | null = null;
  private _cancel: Cancel | null = null;
  private _disposed = false;
  private readonly _changed = new Signal<this, void>(this);
}
