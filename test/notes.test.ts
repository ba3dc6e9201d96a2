// The notes model (src/state/notes.ts) against a fake notes API that keeps the server's etag rules
// (docs/api.md, "Notes and ETags"): autosave after a quiet second, If-Match, conflicts, errors.
import { describe, expect, it } from '@jest/globals';

import type { INotes, INotesAPI } from '../src/state/api';
import { NotesModel } from '../src/state/notes';
import { FakeScheduler } from './fakes/scheduler';

class APIError extends Error {
  constructor(
    message: string,
    readonly code: string
  ) {
    super(message);
  }
}

/** One author's notes on a fake server: etag `"a.<version>"`, `"new"` before the first save. */
class FakeNotesServer implements INotesAPI {
  text = '';
  version = 0;
  puts: Array<{ text: string; etag: string }> = [];
  down = false;

  get etag(): string {
    return this.version === 0 ? '"new"' : `"a.${this.version}"`;
  }

  async getNotes(): Promise<INotes> {
    if (this.down) {
      throw new APIError('cannot reach the server', 'network_error');
    }
    return { text: this.text, etag: this.etag, updated_at: this.version === 0 ? null : 1000 + this.version };
  }

  async putNotes(_room: string, text: string, etag: string): Promise<INotes> {
    this.puts.push({ text, etag });
    if (this.down) {
      throw new APIError('cannot reach the server', 'network_error');
    }
    if (etag !== '*' && etag !== this.etag) {
      throw new APIError('the notes changed since they were read', 'stale_etag');
    }
    this.text = text;
    this.version++;
    return { text, etag: this.etag, updated_at: 1000 + this.version };
  }

  /** Someone else (another tab) saves. */
  saveElsewhere(text: string): void {
    this.text = text;
    this.version++;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

async function setup(initial = ''): Promise<{ server: FakeNotesServer; clock: FakeScheduler; notes: NotesModel }> {
  const server = new FakeNotesServer();
  if (initial !== '') {
    server.saveElsewhere(initial);
  }
  const clock = new FakeScheduler();
  const notes = new NotesModel({ api: server, roomId: 'r1', scheduler: clock, debounceMs: 1000, retryMs: 5000 });
  await notes.load();
  return { server, clock, notes };
}

describe('NotesModel', () => {
  it('loads the saved notes and their etag', async () => {
    const { notes } = await setup('# Candidate\n');
    expect(notes.text).toBe('# Candidate\n');
    expect(notes.etag).toBe('"a.1"');
    expect(notes.status).toBe('saved');
  });

  it('saves a quiet second after the last keystroke, once, with If-Match', async () => {
    const { server, clock, notes } = await setup();
    notes.setText('a');
    clock.advance(500);
    notes.setText('ab');
    clock.advance(500);
    notes.setText('abc');
    expect(notes.status).toBe('saving');
    clock.advance(999);
    await settle();
    expect(server.puts).toEqual([]);
    clock.advance(1);
    await settle();
    expect(server.puts).toEqual([{ text: 'abc', etag: '"new"' }]);
    expect(notes.status).toBe('saved');
    expect(notes.etag).toBe('"a.1"');

    notes.setText('abcd');
    clock.advance(1000);
    await settle();
    expect(server.puts[1]).toEqual({ text: 'abcd', etag: '"a.1"' });
    expect(server.text).toBe('abcd');
  });

  it('keeps typing during a save and saves the rest after it', async () => {
    const { server, clock, notes } = await setup();
    notes.setText('first');
    clock.advance(1000); // the PUT goes out; its answer waits for the microtasks
    notes.setText('first and more');
    await settle();
    expect(notes.status).toBe('saving');
    clock.advance(1000);
    await settle();
    expect(server.puts.map(p => p.text)).toEqual(['first', 'first and more']);
    expect(server.puts[1].etag).toBe('"a.1"');
    expect(notes.status).toBe('saved');
  });

  it('stops on a conflict, shows the saved version and overwrites nothing until told', async () => {
    const { server, clock, notes } = await setup('base');
    server.saveElsewhere('changed in another tab');
    notes.setText('base + mine');
    clock.advance(1000);
    await settle();
    expect(notes.status).toBe('conflict');
    expect(notes.theirs).toBe('changed in another tab');
    expect(server.text).toBe('changed in another tab');
    // More typing does not save over it either.
    notes.setText('base + mine + more');
    clock.advance(10_000);
    await settle();
    expect(server.text).toBe('changed in another tab');
    expect(notes.status).toBe('conflict');

    notes.keepMine();
    await settle();
    expect(server.text).toBe('base + mine + more');
    expect(notes.status).toBe('saved');
    expect(notes.theirs).toBeNull();
  });

  it('can take the saved version instead', async () => {
    const { server, clock, notes } = await setup('base');
    server.saveElsewhere('theirs');
    notes.setText('mine');
    clock.advance(1000);
    await settle();
    notes.takeTheirs();
    expect(notes.text).toBe('theirs');
    expect(notes.status).toBe('saved');
    clock.advance(10_000);
    await settle();
    expect(server.puts.map(p => p.text)).toEqual(['mine']);
  });

  it('reports an error and retries later with what was typed meanwhile', async () => {
    const { server, clock, notes } = await setup();
    server.down = true;
    notes.setText('offline words');
    clock.advance(1000);
    await settle();
    expect(notes.status).toBe('error');
    expect(notes.error).toContain('cannot reach');
    notes.setText('offline words, more');
    server.down = false;
    clock.advance(1000);
    await settle();
    expect(server.text).toBe('offline words, more');
    expect(notes.status).toBe('saved');
  });

  it('saves at once on flush (the page is closing)', async () => {
    const { server, notes } = await setup();
    notes.setText('last words');
    await notes.flush();
    expect(server.text).toBe('last words');
    expect(notes.status).toBe('saved');
  });
});
