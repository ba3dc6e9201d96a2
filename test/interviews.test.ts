// The interviews list model (src/state/interviews.ts) against a fake REST API: links issued at
// creation are reused, other rooms get a new invite, start/end update the row, errors show.
import { describe, expect, it } from '@jest/globals';

import type { IInviteCreated, IRoomCreate, IRoomCreated, IRoomRecord, IRoomsAPI } from '../src/state/api';
import { InterviewsModel } from '../src/state/interviews';

function record(id: string, state: IRoomRecord['state'] = 'scheduled'): IRoomRecord {
  return {
    id,
    title: `Room ${id}`,
    language: 'python',
    state,
    duration_minutes: 45,
    settings: {},
    started_at: null,
    ended_at: null,
    notebook_path: `interviews/${id}/interview.ipynb`
  };
}

class FakeRooms implements IRoomsAPI {
  rooms: IRoomRecord[] = [record('old', 'live')];
  invites: Array<{ room: string; role: string }> = [];
  calls: string[] = [];

  async listRooms(): Promise<IRoomRecord[]> {
    this.calls.push('list');
    return this.rooms.map(r => ({ ...r }));
  }
  async getRoom(id: string): Promise<IRoomRecord> {
    const room = this.rooms.find(r => r.id === id);
    if (room === undefined) {
      throw new Error(`room ${id} not found`);
    }
    return { ...room };
  }
  async createRoom(body: IRoomCreate): Promise<IRoomCreated> {
    if (body.title.trim() === '') {
      throw new Error("field 'title' must not be blank");
    }
    const room = { ...record(`r${this.rooms.length}`), title: body.title };
    this.rooms.push(room);
    return {
      ...room,
      invites: {
        interviewer: `http://x/interview/join/${room.id}?invite=I`,
        candidate: `http://x/interview/join/${room.id}?invite=C`
      }
    };
  }
  async patchRoom(id: string, patch: Record<string, unknown>): Promise<IRoomRecord> {
    return { ...(await this.getRoom(id)), ...patch };
  }
  async issueInvite(room: string, role: 'interviewer' | 'candidate'): Promise<IInviteCreated> {
    this.invites.push({ room, role });
    return {
      jti: `j${this.invites.length}`,
      participant_id: `p${this.invites.length}`,
      role,
      name: role,
      expires_at: 0,
      url: `http://x/interview/join/${room}?invite=new-${role}`
    };
  }
  async start(id: string): Promise<IRoomRecord> {
    return this._set(id, 'live');
  }
  async end(id: string): Promise<IRoomRecord> {
    return this._set(id, 'ended');
  }
  private _set(id: string, state: IRoomRecord['state']): IRoomRecord {
    const room = this.rooms.find(r => r.id === id);
    if (room === undefined) {
      throw new Error('room_not_found');
    }
    if (room.state === 'ended') {
      throw new Error('the room has ended; ended is final');
    }
    room.state = state;
    return { ...room };
  }
}

describe('InterviewsModel', () => {
  it('lists every room for the owner and only its room for an interviewer', async () => {
    const api = new FakeRooms();
    api.rooms.push(record('mine'));
    const owner = new InterviewsModel({ api });
    await owner.refresh();
    expect(owner.rooms.map(r => r.id)).toEqual(['old', 'mine']);
    expect(owner.canCreate).toBe(true);
    const interviewer = new InterviewsModel({ api, roomId: 'mine' });
    await interviewer.refresh();
    expect(interviewer.rooms.map(r => r.id)).toEqual(['mine']);
    expect(interviewer.canCreate).toBe(false);
  });

  it('keeps the links issued with a new room and copies those, issuing nothing', async () => {
    const api = new FakeRooms();
    const model = new InterviewsModel({ api });
    const room = await model.create({ title: 'Backend', language: 'go', duration_minutes: 30 });
    expect(room?.title).toBe('Backend');
    expect(model.created).toBe(room?.id);
    expect(await model.link(room!.id, 'candidate')).toBe(`http://x/interview/join/${room!.id}?invite=C`);
    expect(await model.link(room!.id, 'interviewer')).toBe(`http://x/interview/join/${room!.id}?invite=I`);
    expect(api.invites).toEqual([]);
  });

  it('issues a new invite for a room whose links this page never saw, once', async () => {
    const api = new FakeRooms();
    const model = new InterviewsModel({ api });
    await model.refresh();
    expect(await model.link('old', 'candidate')).toBe('http://x/interview/join/old?invite=new-candidate');
    expect(await model.link('old', 'candidate')).toBe('http://x/interview/join/old?invite=new-candidate');
    expect(api.invites).toEqual([{ room: 'old', role: 'candidate' }]);
  });

  it('starts and ends a room and shows a refusal as an error', async () => {
    const api = new FakeRooms();
    api.rooms.push(record('r9'));
    const model = new InterviewsModel({ api });
    await model.refresh();
    await model.start('r9');
    expect(model.rooms.find(r => r.id === 'r9')?.state).toBe('live');
    await model.end('r9');
    expect(model.rooms.find(r => r.id === 'r9')?.state).toBe('ended');
    expect(model.error).toBeNull();
    await model.start('r9');
    expect(model.error).toContain('ended is final');
    expect(model.rooms.find(r => r.id === 'r9')?.state).toBe('ended');
  });

  it('reports a refused creation and keeps the list', async () => {
    const api = new FakeRooms();
    const model = new InterviewsModel({ api });
    await model.refresh();
    expect(await model.create({ title: ' ', language: 'python', duration_minutes: 45 })).toBeNull();
    expect(model.error).toContain('blank');
    expect(model.rooms.map(r => r.id)).toEqual(['old']);
  });
});
